"""`python -m drivers.emulator --serial N ...`: serve a virtual YubiKey to pcscd via vpcd."""

import argparse
import sys

from .vpcd import add_serve_arguments, run_from_args


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m drivers.emulator", description=__doc__)
    add_serve_arguments(parser)
    return run_from_args(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
