"""The OATH applet's password, rename and touch, as the real ykman CLI sees them over pcscd."""

from __future__ import annotations

import base64
import hmac
import signal
import subprocess

from pcsc_harness import wait_for, ykman_path

SECRET = "JBSWY3DPEHPK3PXP"


def ok(result) -> str:  # noqa: ANN001 - CompletedProcess
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def failed(result, says: str) -> None:  # noqa: ANN001 - CompletedProcess
    assert result.returncode != 0, result.stdout
    assert says in result.stderr, result.stderr


def test_password_set_list_rename_clear_reset(virtual_key, ykman, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # ykman's remembered-password store stays ours
    key = virtual_key(41000001)
    r = key.reader
    ok(ykman(r, "oath", "accounts", "add", "-f", "-i", "ACME", "alice", SECRET))
    assert "Password updated." in ok(ykman(r, "oath", "access", "change", "-n", "s3cret"))

    # Locked: no password, a wrong one, then the right one. No lockout in between.
    failed(ykman(r, "oath", "accounts", "list", input=""), "Aborted")
    for _ in range(3):
        failed(ykman(r, "oath", "accounts", "list", "-p", "nope"), "Wrong password?")
    assert ok(ykman(r, "oath", "accounts", "list", "-p", "s3cret")).split() == ["ACME:alice"]
    assert "Password protection: enabled" in ok(ykman(r, "oath", "info"))

    out = ok(ykman(r, "oath", "accounts", "rename", "-f", "-p", "s3cret", "alice", "ACME:bob"))
    assert "Renamed ACME:alice to ACME:bob." in out
    assert len(ok(ykman(r, "oath", "accounts", "code", "-s", "-p", "s3cret", "bob")).strip()) == 6

    failed(ykman(r, "oath", "access", "change", "-c", "-p", "wrong"), "Wrong password?")
    assert "Password cleared" in ok(ykman(r, "oath", "access", "change", "-p", "s3cret", "-c"))
    assert ok(ykman(r, "oath", "accounts", "list")).split() == ["ACME:bob"]

    # Reset needs no password and takes it away with every account.
    ok(ykman(r, "oath", "access", "change", "-n", "again"))
    assert "Reset complete" in ok(ykman(r, "oath", "reset", "-f"))
    assert ok(ykman(r, "oath", "accounts", "list")) == ""
    assert "Password protection: disabled" in ok(ykman(r, "oath", "info"))


def test_password_survives_removal(virtual_key, ykman, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    key = virtual_key(41000002)
    ok(ykman(key.reader, "oath", "access", "change", "-n", "kept"))
    key.stop()
    key = virtual_key(41000002, state=key.state_path)
    failed(ykman(key.reader, "oath", "accounts", "list", "-p", "other"), "Wrong password?")
    ok(ykman(key.reader, "oath", "accounts", "list", "-p", "kept"))


def test_rename_refused_on_5_2_7(virtual_key, ykman):
    key = virtual_key(41000003, firmware="5.2.7")
    ok(ykman(key.reader, "oath", "accounts", "add", "-f", "alice", SECRET))
    result = ykman(key.reader, "oath", "accounts", "rename", "-f", "alice", "bob")
    failed(result, "requires YubiKey 5.3.1 or later")
    assert ok(ykman(key.reader, "oath", "accounts", "list")).split() == ["alice"]


def test_touch_never_times_out_as_ykman_expects(virtual_key, ykman):
    key = virtual_key(41000004, extra_args=["--touch", "never", "--touch-timeout", "0.5"])
    ok(ykman(key.reader, "oath", "accounts", "add", "-f", "-t", "touchy", SECRET))
    ok(ykman(key.reader, "oath", "accounts", "add", "-f", "plain", SECRET))
    listing = ok(ykman(key.reader, "oath", "accounts", "code"))  # CALCULATE ALL never waits
    assert "[Requires Touch]" in listing
    failed(ykman(key.reader, "oath", "accounts", "code", "-s", "touchy"), "Touch account timed out!")


def test_touch_wait_is_pressed_with_sigusr1(virtual_key, ykman):
    key = virtual_key(41000005, extra_args=["--touch", "wait", "--touch-timeout", "30"])
    ok(ykman(key.reader, "oath", "accounts", "add", "-f", "-t", "-o", "hotp", "touchy", SECRET))
    proc = subprocess.Popen(
        [str(ykman_path()), "--reader", key.reader, "oath", "accounts", "code", "-s", "touchy"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(lambda: "waiting for a touch" in key.log(), 20, "the key to ask for a touch")
        key.process.send_signal(signal.SIGUSR1)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.strip() == hotp(base64.b32decode(SECRET), 0)


def hotp(secret: bytes, counter: int) -> str:
    """RFC 4226, 6 digits, computed here independently of the key and of ykman."""
    digest = hmac.new(secret, counter.to_bytes(8, "big"), "sha1").digest()
    offset = digest[-1] & 0x0F
    return f"{(int.from_bytes(digest[offset:offset + 4], 'big') & 0x7FFFFFFF) % 10**6:06d}"
