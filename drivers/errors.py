"""Typed device errors: each carries a sentence for the operator and a hint of what to do next."""

from __future__ import annotations


class DriverError(Exception):
    """Base of every device error raised by drivers/."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class KeyNotFoundError(DriverError):
    """No key with the asked serial is present on any reader."""


class KeyRemovedError(DriverError):
    """The key went away before or during a command; an unfinished write did not happen."""


class KeyBusyError(DriverError):
    """A card sits in the reader but another program holds it exclusively."""


class AppletMissingError(DriverError):
    """The key does not have (or has disabled) the application the command needs."""


class NoSpaceError(DriverError):
    """The application on the key has no room for another credential."""


class CredentialExistsError(DriverError):
    """A credential with the same name is already on the key (a PUT would silently overwrite it)."""


class NameTooLongError(DriverError):
    """The credential id does not fit the applet's name limit."""


class UnsupportedError(DriverError):
    """The key's firmware cannot do what was asked (e.g. SHA-512 on old firmware)."""


class PcscUnavailableError(DriverError):
    """The PC/SC service (pcscd) is not reachable."""
