"""The identity-provider hand-off: exports of tokens to Entra ID, Okta, Duo and privacyIDEA (and plain
PSKC or Yubico logs), deactivation lists, confirmation that the IdP took them, and imports of tokens
programmed elsewhere.

    selection.py      which tokens an export takes (since the last export, a site, a batch, a wave,
                      one replacement, explicit serials) and what the IdP must do with each
    token_seeds.py    the station's tokens as neutral `TokenSeed`s, secrets opened from the vault
    formats.py        the targets: each format's writer, its IdP, and that IdP's deactivation list
    safe_files.py     where an export may be written, and writing it atomically with mode 0600
    archive.py        the password-protected 7z around formats that have no encryption of their own
    exports.py        the workflow: choose, check, write, record in the ledger; confirm or withdraw
    handlers.py       the projection of the hand-off events (pending exports, what each token awaits)
    imports.py        seed files in every format we read, through the stock intake

Secrets leave the vault only into the export file the operator names, and always encrypted; the
ledger records who exported which tokens in which format and the file's SHA-256, never a secret.
"""
