"""C2SP signed notes and tlog checkpoints (spec §5).

The public vectors (C2SP example, golang.org/x/mod/sumdb/note, a real sum.golang.org checkpoint),
byte-exact signing, our own round trips, named negative cases, witness cosignatures
(tlog-cosignature/v1) and Hypothesis round trips."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.checkpoint import (
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    Checkpoint,
    CheckpointError,
    Signer,
    Verifier,
    Witness,
    key_id,
    note_signers,
    open_note,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
    verify_cosignatures,
)
from ledger.core.keys import Ed25519PrivateKey, public_raw
from ledger.core.merkle import EMPTY_ROOT
from ledger.errors import VerificationError

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "c2sp-signed-note"


def _read(name: str) -> str:
    return (VECTORS / name).read_text(encoding="utf-8")


def _split(note: str) -> tuple[str, str]:
    i = note.rfind("\n\n")
    return note[: i + 1], note[i + 2 :]


def _key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"test key %d" % seed).digest())


LOG = Signer("ledger.example/log", _key(1))
OTHER = Signer("ledger.example/log", _key(2))  # same name, another key
CP = Checkpoint("ledger.example/log", 42, hashlib.sha256(b"root").digest())
CP_NOTE = sign_checkpoint(CP, LOG)


# --- public vectors ------------------------------------------------------------------------------


def test_vector_files_present() -> None:
    names = sorted(p.name for p in VECTORS.iterdir())
    assert names == [
        "SOURCE.txt",
        "example.note",
        "example.vkey",
        "go-sumdb-PeterNeumann.note",
        "go-sumdb-PeterNeumann.skey",
        "go-sumdb-PeterNeumann.vkey",
        "sumdb-checkpoint.note",
        "sumdb-checkpoint.vkey",
    ]


def test_c2sp_example_note_verifies() -> None:
    v = Verifier.parse(_read("example.vkey"))
    assert v.name == "example.com/foo"
    assert v.key_id == bytes.fromhex("530d903a")
    assert v.vkey == _read("example.vkey").strip()
    note = open_note(_read("example.note"), [v])
    assert note.text == "This is an example message.\n"
    assert note.verified == ("example.com/foo",)


def test_peter_neumann_note_verifies_and_signing_reproduces_it() -> None:
    v = Verifier.parse(_read("go-sumdb-PeterNeumann.vkey"))
    note = _read("go-sumdb-PeterNeumann.note")
    opened = open_note(note, [v])
    assert opened.verified == ("PeterNeumann",)
    assert opened.text == (
        "If you think cryptography is the answer to your problem,\n"
        "then you don't know what your problem is.\n"
    )
    signer = Signer.parse(_read("go-sumdb-PeterNeumann.skey"))
    assert signer.verifier == v
    assert signer.skey == _read("go-sumdb-PeterNeumann.skey").strip()
    assert sign_note(opened.text, [signer]) == note
    assert "AYEKF" not in repr(signer)  # the secret never shows in a repr


def test_sum_golang_org_checkpoint() -> None:
    v = Verifier.parse(_read("sumdb-checkpoint.vkey"))
    assert v.name == "sum.golang.org"
    assert v.vkey == _read("sumdb-checkpoint.vkey").strip()
    cp = verify_checkpoint(_read("sumdb-checkpoint.note"), v, origin="go.sum database tree")
    assert cp == Checkpoint(
        "go.sum database tree",
        6476701,
        base64.b64decode("mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk="),
    )
    assert cp.text == _split(_read("sumdb-checkpoint.note"))[0]


def test_note_given_as_bytes() -> None:
    v = Verifier.parse(_read("example.vkey"))
    assert open_note(_read("example.note").encode(), [v]).verified == ("example.com/foo",)


# --- our own keys and checkpoints ----------------------------------------------------------------


def test_key_id_formula() -> None:
    pub = public_raw(_key(1))
    assert key_id("a", pub) == hashlib.sha256(b"a\n\x01" + pub).digest()[:4]
    assert key_id("a", pub, 0x04) == hashlib.sha256(b"a\n\x04" + pub).digest()[:4]
    assert LOG.key_id == key_id(LOG.name, public_raw(_key(1)))


def test_checkpoint_round_trip() -> None:
    assert CP.text == f"ledger.example/log\n42\n{base64.b64encode(CP.root).decode()}\n"
    text, sigs = _split(CP_NOTE)
    assert text == CP.text
    assert sigs.startswith("\u2014 ledger.example/log ")
    assert verify_checkpoint(CP_NOTE, LOG.verifier, origin=CP.origin) == CP
    assert verify_checkpoint(CP_NOTE.encode(), Verifier.parse(LOG.verifier.vkey)) == CP


def test_signer_key_text_round_trip() -> None:
    again = Signer.parse(LOG.skey)
    assert again.verifier == LOG.verifier
    assert sign_checkpoint(CP, again) == CP_NOTE  # Ed25519 is deterministic
    fresh = Signer.generate("fresh.example/log")
    assert Verifier.parse(fresh.verifier.vkey) == fresh.verifier
    assert Signer.parse(fresh.skey).pub == fresh.pub


def test_empty_tree_and_extensions() -> None:
    empty = Checkpoint("o", 0, EMPTY_ROOT)
    assert Checkpoint.parse(empty.text) == empty
    ext = Checkpoint("o", 7, EMPTY_ROOT, ("ext one", "ext two"))
    assert ext.text.endswith("\next one\next two\n")
    assert verify_checkpoint(sign_checkpoint(ext, LOG), LOG.verifier) == ext


def test_multiple_signers_unknown_and_repeated_signatures() -> None:
    note = sign_note(CP.text, [OTHER, LOG])
    opened = open_note(note, [LOG.verifier])  # OTHER's key id differs: ignored
    assert opened.verified == (LOG.name,)
    assert len(opened.signatures) == 2
    both = open_note(note, [LOG.verifier, OTHER.verifier])
    assert both.verified == (LOG.name, OTHER.name)
    # a second line by an already-verified key is ignored, like golang.org/x/mod/sumdb/note
    _, sigs = _split(note)
    bogus = sigs.splitlines()[1][:-8] + "AAAAAAA="
    assert open_note(note + bogus + "\n", [LOG.verifier]).verified == (LOG.name,)
    # the same verifier given twice is fine
    assert open_note(note, [LOG.verifier, LOG.verifier]).verified == (LOG.name,)


def test_text_with_blank_lines() -> None:
    text = "first\n\nthird\n\n"
    note = sign_note(text, [LOG])
    assert open_note(note, [LOG.verifier]).text == text


def test_uppercase_hex_key_id_is_accepted() -> None:
    name, kid, rest = LOG.verifier.vkey.split("+", 2)
    assert Verifier.parse(f"{name}+{kid.upper()}+{rest}") == LOG.verifier


# --- named negative cases ------------------------------------------------------------------------


def _flip_sig(note: str) -> str:
    text, sigs = _split(note)
    line = sigs.splitlines()[0]
    head, b64 = line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[10] ^= 0x01
    return f"{text}\n{head} {base64.b64encode(bytes(raw)).decode()}\n"


def _replace_body(old: str, new: str) -> Callable[[], Any]:
    def run() -> Any:
        text, sigs = _split(CP_NOTE)
        assert old in text
        return verify_checkpoint(text.replace(old, new, 1) + "\n" + sigs, LOG.verifier)

    return run


def _signed(text: str) -> Callable[[], Any]:
    """Checkpoint text that is correctly signed but malformed as a checkpoint."""
    return lambda: verify_checkpoint(sign_note(text, [LOG]), LOG.verifier)


ROOT_B64 = base64.b64encode(CP.root).decode()
URLSAFE_ROOT = base64.urlsafe_b64encode(bytes([0xFB]) * 32).decode()
NEGATIVE: list[tuple[str, Callable[[], Any]]] = [
    ("tampered-text", _replace_body("\n42\n", "\n43\n")),
    ("tampered-origin", _replace_body("ledger.example/log\n", "ledger.example/lag\n")),
    ("tampered-signature", lambda: verify_checkpoint(_flip_sig(CP_NOTE), LOG.verifier)),
    ("wrong-key", lambda: verify_checkpoint(CP_NOTE, OTHER.verifier)),
    ("no-verifiers", lambda: open_note(CP_NOTE, [])),
    (
        "unknown-signer-only",
        lambda: open_note(_read("example.note"), [Verifier.parse(_read("sumdb-checkpoint.vkey"))]),
    ),
    (
        "verifier-with-mismatched-key-id",
        lambda: open_note(CP_NOTE, [Verifier(LOG.name, LOG.key_id, OTHER.pub)]),
    ),
    ("origin-mismatch", lambda: verify_checkpoint(CP_NOTE, LOG.verifier, origin="other/log")),
    ("missing-blank-line", lambda: open_note(CP_NOTE.replace("\n\n", "\n"), [LOG.verifier])),
    ("missing-trailing-newline", lambda: open_note(CP_NOTE[:-1], [LOG.verifier])),
    ("no-signature-lines", lambda: open_note(CP.text + "\n", [LOG.verifier])),
    ("empty-note", lambda: open_note("", [LOG.verifier])),
    (
        "hyphen-instead-of-em-dash",
        lambda: open_note(CP_NOTE.replace("\u2014 ", "- "), [LOG.verifier]),
    ),
    (
        "en-dash-instead-of-em-dash",
        lambda: open_note(CP_NOTE.replace("\u2014", "\u2013"), [LOG.verifier]),
    ),
    (
        "no-space-after-name",
        lambda: open_note(CP_NOTE.replace(f"{LOG.name} ", LOG.name), [LOG.verifier]),
    ),
    (
        "bad-signature-base64",
        lambda: open_note(CP_NOTE[:-3] + "!=\n", [LOG.verifier]),
    ),
    (
        "signature-too-short",
        lambda: open_note(CP.text + f"\n\u2014 {LOG.name} AAAAAA==\n", [LOG.verifier]),
    ),
    (
        "plus-in-signature-name",
        lambda: open_note(CP.text + "\n\u2014 a+b AAAAAAAAAAAAAAAA\n", [LOG.verifier]),
    ),
    ("carriage-return", lambda: open_note(CP_NOTE.replace("\n", "\r\n"), [LOG.verifier])),
    ("tab-in-text", lambda: open_note(sign_note("a\tb\n", [LOG]), [LOG.verifier])),
    ("nul-in-text", lambda: open_note("a\x00\n" + _split(CP_NOTE)[1], [LOG.verifier])),
    ("invalid-utf8", lambda: open_note(b"\xff\xfe\n\n" + CP_NOTE.encode(), [LOG.verifier])),
    ("lone-surrogate", lambda: open_note("\ud800\n\n" + CP_NOTE, [LOG.verifier])),
    (
        "too-many-signatures",
        lambda: open_note(
            CP_NOTE + _split(sign_note(CP.text, [OTHER]))[1] * MAX_SIGNATURES, [LOG.verifier]
        ),
    ),
    ("note-too-large", lambda: open_note("x" * MAX_NOTE_BYTES + CP_NOTE, [LOG.verifier])),
    ("bad-base64-root", _signed(f"o\n1\n{ROOT_B64[:-2]}!=\n")),
    ("root-31-bytes", _signed(f"o\n1\n{base64.b64encode(CP.root[:31]).decode()}\n")),
    ("root-33-bytes", _signed(f"o\n1\n{base64.b64encode(CP.root + b'x').decode()}\n")),
    ("root-unpadded", _signed(f"o\n1\n{ROOT_B64.rstrip('=')}\n")),
    (
        "root-urlsafe-alphabet",
        _signed(f"o\n1\n{URLSAFE_ROOT}\n"),
    ),
    ("size-leading-zero", _signed(f"o\n042\n{ROOT_B64}\n")),
    ("size-negative", _signed(f"o\n-1\n{ROOT_B64}\n")),
    ("size-plus-sign", _signed(f"o\n+1\n{ROOT_B64}\n")),
    ("size-hex", _signed(f"o\n0x10\n{ROOT_B64}\n")),
    ("size-arabic-indic-digit", _signed(f"o\n\u0663\n{ROOT_B64}\n")),
    ("size-with-space", _signed(f"o\n 1\n{ROOT_B64}\n")),
    ("size-over-64-bits", _signed(f"o\n{2**64}\n{ROOT_B64}\n")),
    ("empty-origin", _signed(f"\n1\n{ROOT_B64}\n")),
    ("missing-root-line", _signed("o\n1\n")),
    ("empty-extension-line", _signed(f"o\n1\n{ROOT_B64}\n\next\n")),
    ("sign-without-trailing-newline", lambda: sign_note("no newline", [LOG])),
    ("sign-control-character", lambda: sign_note("bell\x07\n", [LOG])),
    ("sign-without-signers", lambda: sign_note("text\n", [])),
    ("parse-without-trailing-newline", lambda: Checkpoint.parse(CP.text[:-1])),
    ("checkpoint-origin-with-newline", lambda: Checkpoint("a\nb", 1, CP.root)),
    ("checkpoint-negative-size", lambda: Checkpoint("o", -1, CP.root)),
    ("checkpoint-short-root", lambda: Checkpoint("o", 1, b"x" * 31)),
    ("checkpoint-empty-extension", lambda: Checkpoint("o", 1, CP.root, ("",))),
]


@pytest.mark.parametrize("call", [c for _, c in NEGATIVE], ids=[n for n, _ in NEGATIVE])
def test_refused(call: Callable[[], Any]) -> None:
    with pytest.raises(CheckpointError) as exc:
        call()
    assert exc.value.code == "bad_checkpoint"
    assert isinstance(exc.value, VerificationError)
    assert exc.value.message


GOOD_VKEY = LOG.verifier.vkey
_NAME, _KID, _B64 = GOOD_VKEY.split("+", 2)
_PUB = public_raw(_key(1))
BAD_VKEYS = {
    "key-id-mismatch": f"{_NAME}+{(int(_KID, 16) ^ 1):08x}+{_B64}",
    "key-id-7-digits": f"{_NAME}+{_KID[:7]}+{_B64}",
    "key-id-not-hex": f"{_NAME}+{_KID[:7]}g+{_B64}",
    "key-id-0x-prefix": f"{_NAME}+0x{_KID[:6]}+{_B64}",
    "wrong-alg": f"{_NAME}+{key_id(_NAME, _PUB, 2).hex()}+"
    + base64.b64encode(b"\x02" + _PUB).decode(),
    "witness-alg-as-log-key": f"{_NAME}+{key_id(_NAME, _PUB, 4).hex()}+"
    + base64.b64encode(b"\x04" + _PUB).decode(),
    "short-key": f"{_NAME}+{key_id(_NAME, _PUB[:31]).hex()}+"
    + base64.b64encode(b"\x01" + _PUB[:31]).decode(),
    "empty-key": f"{_NAME}+{_KID}+",
    "bad-base64": f"{_NAME}+{_KID}+{_B64[:-1]}*",
    "missing-parts": f"{_NAME}+{_KID}",
    "empty-name": f"+{_KID}+{_B64}",
    "name-with-space": f"a b+{_KID}+{_B64}",
    "name-with-ideographic-space": f"a\u3000b+{_KID}+{_B64}",
    "name-with-nbsp": f"a\u00a0b+{_KID}+{_B64}",
    "skey-given-as-vkey": LOG.skey,
}


@pytest.mark.parametrize("vkey", list(BAD_VKEYS.values()), ids=list(BAD_VKEYS))
def test_bad_vkey(vkey: str) -> None:
    with pytest.raises(CheckpointError):
        Verifier.parse(vkey)


_SNAME, _SKID, _SB64 = LOG.skey.removeprefix("PRIVATE+KEY+").split("+", 2)
BAD_SKEYS = {
    "no-private-prefix": f"{_SNAME}+{_SKID}+{_SB64}",
    "lowercase-prefix": f"private+key+{_SNAME}+{_SKID}+{_SB64}",
    "key-id-mismatch": f"PRIVATE+KEY+{_SNAME}+{(int(_SKID, 16) ^ 1):08x}+{_SB64}",
    "renamed": f"PRIVATE+KEY+other.example+{_SKID}+{_SB64}",
    "wrong-alg": f"PRIVATE+KEY+{_SNAME}+{_SKID}+"
    + base64.b64encode(b"\x02" + base64.b64decode(_SB64)[1:]).decode(),
    "short-seed": f"PRIVATE+KEY+{_SNAME}+{_SKID}+"
    + base64.b64encode(base64.b64decode(_SB64)[:32]).decode(),
    "vkey-given-as-skey": GOOD_VKEY,
}


@pytest.mark.parametrize("skey", list(BAD_SKEYS.values()), ids=list(BAD_SKEYS))
def test_bad_skey(skey: str) -> None:
    with pytest.raises(CheckpointError):
        Signer.parse(skey)


def test_verifier_constructor_checks_key_id() -> None:
    with pytest.raises(CheckpointError):
        Verifier(LOG.name, b"\x00\x00\x00\x00", LOG.pub)
    with pytest.raises(CheckpointError):
        Signer("bad name", _key(1))


# --- witness cosignatures (c2sp.org/tlog-cosignature, Ed25519 v1) -------------------------------


def _cosign(note: str, name: str, key: Ed25519PrivateKey, ts: int) -> str:
    """An independent cosigner: appends a timestamped Ed25519 cosignature line."""
    text, _ = _split(note)
    msg = f"cosignature/v1\ntime {ts}\n".encode() + text.encode()
    kid = hashlib.sha256(name.encode() + b"\n\x04" + public_raw(key)).digest()[:4]
    sig = kid + ts.to_bytes(8, "big") + key.sign(msg)
    return note + f"\u2014 {name} {base64.b64encode(sig).decode()}\n"


WKEYS = [_key(10 + i) for i in range(3)]
WITNESSES = [
    Witness.from_public(f"witness{i}.example/w", public_raw(k)) for i, k in enumerate(WKEYS)
]
TS = 1_760_000_000
COSIGNED = _cosign(
    _cosign(CP_NOTE, WITNESSES[0].name, WKEYS[0], TS), WITNESSES[2].name, WKEYS[2], TS
)


def test_cosignatures_quorum() -> None:
    assert verify_cosignatures(COSIGNED, WITNESSES, 2) == (WITNESSES[0].name, WITNESSES[2].name)
    assert verify_cosignatures(COSIGNED, WITNESSES, 0, now=TS) == (
        WITNESSES[0].name,
        WITNESSES[2].name,
    )
    # the log key still verifies: cosignatures are unknown keys to it
    assert open_note(COSIGNED, [LOG.verifier]).verified == (LOG.name,)
    cp = verify_checkpoint(COSIGNED, LOG.verifier, witnesses=WITNESSES, quorum=2, now=TS + 5)
    assert cp == CP


def test_witness_vkey_round_trip() -> None:
    w = WITNESSES[0]
    assert w.key_id == key_id(w.name, w.pub, 0x04)
    assert Witness.parse(w.vkey) == w
    with pytest.raises(CheckpointError):
        Witness.parse(LOG.verifier.vkey)  # type 0x01 is not a witness key
    with pytest.raises(CheckpointError):
        Verifier.parse(w.vkey)  # and type 0x04 is not a log key


def _forged_plain_cosignature() -> str:
    # a plain 0x01-style signature by the witness key under its 0x04 key id: not timestamped
    text, _ = _split(CP_NOTE)
    sig = WITNESSES[1].key_id + WKEYS[1].sign(text.encode())
    return CP_NOTE + f"\u2014 {WITNESSES[1].name} {base64.b64encode(sig).decode()}\n"


def _transplanted_cosignature() -> str:
    # a valid cosignature of ANOTHER checkpoint, moved under ours
    other = _cosign(sign_checkpoint(Checkpoint("x", 1, CP.root), LOG), *_W1, TS)
    witness_line = _split(other)[1].splitlines()[1]
    return CP_NOTE + witness_line + "\n"


_W1 = (WITNESSES[1].name, WKEYS[1])

COSIG_NEGATIVE: list[tuple[str, Callable[[], Any]]] = [
    ("quorum-not-met", lambda: verify_cosignatures(COSIGNED, WITNESSES, 3)),
    ("quorum-beyond-witnesses", lambda: verify_cosignatures(COSIGNED, WITNESSES[:1], 2)),
    ("negative-quorum", lambda: verify_cosignatures(COSIGNED, WITNESSES, -1)),
    ("no-cosignatures", lambda: verify_cosignatures(CP_NOTE, WITNESSES, 1)),
    (
        "tampered-checkpoint",
        lambda: verify_cosignatures(COSIGNED.replace("\n42\n", "\n43\n"), WITNESSES, 1),
    ),
    (
        "cosignature-of-other-checkpoint",
        lambda: verify_cosignatures(_transplanted_cosignature(), WITNESSES, 1),
    ),
    (
        "future-timestamp",
        lambda: verify_cosignatures(
            _cosign(CP_NOTE, WITNESSES[1].name, WKEYS[1], TS + 301), WITNESSES, 1, now=TS
        ),
    ),
    (
        "timestamp-over-2^63",
        lambda: verify_cosignatures(
            _cosign(CP_NOTE, WITNESSES[1].name, WKEYS[1], 2**63), WITNESSES, 1
        ),
    ),
    (
        "untimestamped-signature",
        lambda: verify_cosignatures(_forged_plain_cosignature(), WITNESSES, 1),
    ),
    (
        "cosigned-by-unknown-witness-only",
        lambda: verify_cosignatures(
            _cosign(CP_NOTE, "stranger.example/w", _key(99), TS), WITNESSES, 1
        ),
    ),
    (
        "verify-checkpoint-without-quorum",
        lambda: verify_checkpoint(CP_NOTE, LOG.verifier, witnesses=WITNESSES, quorum=1),
    ),
]


@pytest.mark.parametrize("call", [c for _, c in COSIG_NEGATIVE], ids=[n for n, _ in COSIG_NEGATIVE])
def test_cosignature_refused(call: Callable[[], Any]) -> None:
    with pytest.raises(CheckpointError):
        call()


def test_cosignature_just_inside_clock_skew() -> None:
    note = _cosign(CP_NOTE, WITNESSES[1].name, WKEYS[1], TS + 300)
    assert verify_cosignatures(note, WITNESSES, 1, now=TS) == (WITNESSES[1].name,)


# --- Hypothesis ----------------------------------------------------------------------------------

_line = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], min_codepoint=0x20),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    origin=_line,
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_line, max_size=3).map(tuple),
)
def test_checkpoint_sign_verify_round_trip(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    cp = Checkpoint(origin, size, root, extensions)
    assert Checkpoint.parse(cp.text) == cp
    note = sign_checkpoint(cp, LOG)
    assert verify_checkpoint(note, LOG.verifier, origin=origin) == cp


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_any_flipped_bit_in_a_signed_note_fails(data: st.DataObject) -> None:
    raw = bytearray(CP_NOTE.encode())
    i = data.draw(st.integers(0, len(raw) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    raw[i] ^= 1 << bit
    try:
        cp = verify_checkpoint(bytes(raw), LOG.verifier)
    except CheckpointError:
        return
    # The only accepted change: a bit in the base64 padding/tail that decodes to the same bytes.
    assert cp == CP


def test_note_signers_names_who_signed_without_verifying() -> None:
    twice = sign_note(CP.text, [LOG, OTHER])
    assert [(s.name, s.key_id) for s in note_signers(twice)] == [
        (LOG.name, LOG.key_id),
        (OTHER.name, OTHER.key_id),
    ]
    with pytest.raises(CheckpointError):
        note_signers("no signature block\n")
