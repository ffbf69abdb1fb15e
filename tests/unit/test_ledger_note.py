"""C2SP signed notes, checkpoints, cosignatures and tlog-proofs against the specs' own examples and
the vectors of Go's golang.org/x/mod/sumdb/note (the reference implementation of the note format)."""

import base64
import struct

import pytest

from ledger.keys import generate_key
from ledger.note import (
    SIG_COSIGNATURE_V1,
    Checkpoint,
    Cosigner,
    NoteFormatError,
    NoteSignatureError,
    Signer,
    TlogProof,
    Verifier,
    add_signatures,
    cosignature_timestamp,
    is_valid_key_name,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_note,
    parse_signature_line,
    parse_signer_key,
    parse_tlog_proof,
    parse_verifier_key,
    sign_checkpoint,
    sign_note,
    signer_key,
)

# golang.org/x/mod/sumdb/note note_test.go (TestSign, TestOpen)
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_PETER_SIG = ("— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfq"
                "dngotpRZb6KE6RyyBwJnAM=\n")
GO_ENOCH_SIG = ("— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTG"
                "wnWLox33WWd1RvMc+QQ=\n")

# c2sp.org/signed-note, the example at the top of the spec (its key is not published: syntax only)
C2SP_NOTE = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed è subito sera.\n"
    "\n"
    "— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcX"
    "xj99ihAQwaqP3ZekRwNtIc=\n"
)
# c2sp.org/tlog-cosignature, the example at the top of the spec (the spec shows the witness line
# broken by a literal "\n"; joined here)
C2SP_COSIGNED = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9"
    "nTo+zyWE+xeMcTOAYQ8=\n"
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZ"
    "qhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
# c2sp.org/tlog-proof, the example at the top of the spec (its signatures are elided with [...])
C2SP_PROOF_HEAD = (
    "c2sp.org/tlog-proof@v1\n"
    "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
    "index 73894\n"
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
    "\n"
    "example.com/fancylog\n"
    "109482\n"
    "sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
    "\n"
    "— example.com/fancylog hI2DJw[...]1roloI=\n"
)


def test_go_sign_vector_byte_for_byte():
    signer = parse_signer_key(GO_SKEY)
    assert signer.name == "PeterNeumann" and signer.key_id.hex() == "c74f20a3"
    assert signer_key(signer) == GO_SKEY
    assert signer.verifier().vkey() == GO_VKEY
    assert sign_note(GO_TEXT, [signer]) == GO_TEXT + "\n" + GO_PETER_SIG


def test_go_open_vectors_with_one_and_two_keys():
    peter, enoch = parse_verifier_key(GO_VKEY), parse_verifier_key(GO_ENOCH_VKEY)
    both = GO_TEXT + "\n" + GO_PETER_SIG + GO_ENOCH_SIG
    note = open_note(both, [peter])
    assert note.text == GO_TEXT and [s.name for s in note.verified] == ["PeterNeumann"]
    assert len(note.signatures) == 2  # Enoch's line is kept, unverified
    assert [s.name for s in open_note(both, [peter, enoch]).verified] == ["PeterNeumann", "EnochRoot"]
    with pytest.raises(NoteSignatureError, match="invalid"):
        open_note(GO_TEXT.replace("answer", "answers") + "\n" + GO_PETER_SIG, [peter])
    with pytest.raises(NoteSignatureError, match="no trusted key"):
        open_note(GO_TEXT + "\n" + GO_ENOCH_SIG, [peter])


@pytest.mark.parametrize("vkey", [
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
    "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "PeterNeumann+c74f20a3+AhpjDvuXPWrXk0DSvAvrOHoSgy0yhzs9fspQNcmyJ/I8",  # unsupported type 0x02
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "PeterNeumann+c74f20a3",
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW+",
])
def test_bad_verifier_keys_are_refused(vkey):
    with pytest.raises(NoteFormatError):
        parse_verifier_key(vkey)


def test_c2sp_signed_note_example_parses():
    note = parse_note(C2SP_NOTE)
    # The text keeps its own blank line: only the last one separates the signatures.
    assert note.text == ("Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\n"
                         "ed è subito sera.\n")
    (sig,) = note.signatures
    assert sig.name == "quasimodo.example/salvatore"
    assert sig.key_id.hex() == "367ba04b" and len(sig.signature) == 64
    other = Verifier("quasimodo.example/salvatore", generate_key().public_key())
    with pytest.raises(NoteSignatureError, match="no trusted key"):  # same name, other id: ignored
        open_note(C2SP_NOTE, [other])


def test_c2sp_cosignature_example_parses_with_its_timestamp():
    note = parse_note(C2SP_COSIGNED)
    log, witness = note.signatures
    assert parse_checkpoint(note.text) == Checkpoint(
        "example.com/behind-the-sofa", 20852163,
        base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="),
    )
    assert len(log.signature) == 64 and witness.name == "witness.example.com/w1"
    assert len(witness.signature) == 72 and cosignature_timestamp(witness) == 1679315147  # "time 1679315147"


def test_c2sp_tlog_proof_example_parses():
    proof = parse_tlog_proof(C2SP_PROOF_HEAD)
    assert proof.index == 73894 and len(proof.proof) == 5
    assert proof.extra == base64.b64decode("YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ")
    assert proof.checkpoint.startswith("example.com/fancylog\n109482\n")
    assert proof.format() == C2SP_PROOF_HEAD


def test_checkpoint_round_trip_and_origin_check():
    signer = Signer("tokens.example.org/branch-07", generate_key())
    cp = Checkpoint("tokens.example.org/branch-07", 5, b"\x07" * 32)
    signed = sign_checkpoint(cp, signer)
    assert signed.startswith("tokens.example.org/branch-07\n5\nBwcH")
    got, _ = open_checkpoint(signed, "tokens.example.org/branch-07", [signer.verifier()])
    assert got == cp
    with pytest.raises(NoteSignatureError, match="for log"):
        open_checkpoint(signed, "tokens.example.org/branch-08", [signer.verifier()])


@pytest.mark.parametrize("text", [
    "origin\n05\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",  # leading zero
    "origin\n-1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
    "origin\n5\nBwcH\n",  # root too short
    "origin\n5\n",
    "origin\n5\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n",  # empty extension line
])
def test_malformed_checkpoints_are_refused(text):
    with pytest.raises(NoteFormatError):
        parse_checkpoint(text)


def test_cosignature_v1_signs_header_time_and_checkpoint():
    log = Signer("tokens.example.org/branch-07", generate_key())
    witness = Cosigner("tokens.example.org/head-office/witness", generate_key())
    signed = sign_checkpoint(Checkpoint(log.name, 3, b"\x01" * 32), log)
    text = parse_note(signed).text
    line = witness.sign(text, 1700000000)
    assert struct.unpack(">Q", line.signature[:8])[0] == 1700000000
    witness.private_key.public_key().verify(
        line.signature[8:], b"cosignature/v1\ntime 1700000000\n" + text.encode()
    )
    cosigned = add_signatures(signed, [parse_signature_line(line.line())])
    assert cosigned == signed + line.line()
    wv = witness.verifier()
    assert wv.sig_type == SIG_COSIGNATURE_V1 and parse_verifier_key(wv.vkey()) == wv
    note = open_note(cosigned, [log.verifier(), wv])
    assert len(note.verified) == 2
    # The witness's line is not a log signature: a type-0x01 verifier under its name ignores it.
    plain = open_note(cosigned, [Verifier(wv.name, wv.public_key), log.verifier()])
    assert [s.name for s in plain.verified] == [log.name]


@pytest.mark.parametrize("message", [
    "text\n\n- name AAAA\n",  # hyphen, not em dash
    "text\n— name AAAAAAAA\n",  # no blank line
    "text\n\n— name AAAAAAAA",  # no final newline
    "te\x01xt\n\n— name AAAAAAAA\n",  # control character
    "text\n\n— name AAAA\n",  # too short for key id and signature
    "text\n\n— na+me AAAAAAAA\n",
])
def test_malformed_notes_are_refused(message):
    with pytest.raises(NoteFormatError):
        parse_note(message)


def test_tlog_proof_round_trip():
    proof = TlogProof(3, (b"\x01" * 32, b"\x02" * 32), "o\n4\n" + "A" * 43 + "=\n\n— o AAAAAAAA\n")
    assert parse_tlog_proof(proof.format()) == proof
    with pytest.raises(NoteFormatError):
        parse_tlog_proof(proof.format().replace("index 3", "index 03"))


def test_keys_whose_base64_holds_a_plus_sign():
    # Go's example signer key has "+" inside its base64 part; so can any verifier key.
    for _ in range(50):
        signer = Signer("example.org/log", generate_key())
        assert parse_signer_key(signer_key(signer)).key_id == signer.key_id
        assert parse_verifier_key(signer.verifier().vkey()) == signer.verifier()


def test_a_signature_spelt_in_non_canonical_base64_is_refused():
    # 68 signature bytes end in a 2-byte group: its base64 has 2 spare bits, which lenient decoders
    # (Go's StdEncoding among them) ignore. Setting them spells the same bytes differently.
    text, line = GO_TEXT, GO_PETER_SIG
    b64 = line.rsplit(" ", 1)[1].rstrip("\n")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = b64.rstrip("=")[-1]
    padding = "=" * (len(b64) - len(b64.rstrip("=")))
    respelt = b64.rstrip("=")[:-1] + alphabet[alphabet.index(last) | 0b01] + padding
    assert respelt != b64 and base64.b64decode(respelt) == base64.b64decode(b64)
    message = text + "\n" + line.replace(b64, respelt)
    with pytest.raises(NoteFormatError, match="canonical base64"):
        open_note(message, [parse_verifier_key(GO_VKEY)])
    assert open_note(text + "\n" + line, [parse_verifier_key(GO_VKEY)]).text == text


def test_key_names_refuse_exactly_the_characters_python_calls_space():
    # is_valid_key_name searches with a regex; it must refuse what str.isspace() calls space, no more.
    spaces = [c for c in map(chr, range(0x110000)) if c.isspace()]
    assert spaces and all(not is_valid_key_name(f"a{c}b") for c in spaces)
    others = [c for c in map(chr, range(0x110000)) if not c.isspace() and c != "+"]
    assert all(is_valid_key_name(f"a{c}b") for c in others)
