"""Operators of the station: credentials (PIN and their own token), sign-in, sessions, lockout,
break-glass and four-eyes approvals. See README "Operator sign-in".

Every state-changing station function takes the acting operator's `Session` (and a second operator's
approval `Session` where two people are needed); `authorise.require` checks the session is live and
wraps the role check of `station.inventory.roles`.
"""
