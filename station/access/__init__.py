"""Owners' access codes besides their tokens: recovery codes and temporary access codes.

Both are made and checked by station.codes (pure); here they are issued, sealed (hashes only, in the
vault), recorded (ledger events without the codes) and their use tracked in the projection.
"""
