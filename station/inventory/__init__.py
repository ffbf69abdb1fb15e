"""The desk's inventory: people and places, token states, custody, intake, audits and reports.

Every function that changes something takes the acting operator (and, where two people are needed,
the second one) explicitly, checks them against the enrolled operators and their roles, and records
them in the ledger event. Operator authentication (issue 6) wraps these functions; it does not change
them. The tables these functions read are the projection of the ledger (`schema.py`, `handlers.py`).
"""
