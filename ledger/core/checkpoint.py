"""C2SP signed notes, tlog checkpoints and witness cosignatures (spec §5).

* ``c2sp.org/signed-note``: a text ending in ``\\n``, a blank line, then signature lines
  ``— <key name> base64(4-byte key id || signature)\\n`` (U+2014 EM DASH). Ed25519 keys use
  signature type 0x01 and key id ``SHA-256(name || 0x0A || 0x01 || pub)[:4]``. Verifier keys are
  written ``name+hexkeyid+base64(0x01 || pub)``, signer keys
  ``PRIVATE+KEY+name+hexkeyid+base64(0x01 || seed)``.
* ``c2sp.org/tlog-checkpoint``: the note text ``origin\\nsize\\nbase64(root)\\n[extension lines]``.
* ``c2sp.org/tlog-cosignature``: Ed25519 witness cosignatures, type 0x04, whose
  signature is ``8-byte big-endian timestamp || Ed25519 signature`` over
  ``cosignature/v1\\ntime <timestamp>\\n`` followed by the checkpoint text; verified with
  :func:`verify_cosignatures`, made by :class:`WitnessSigner` (the timestamp is passed in).

Opening a note follows golang.org/x/mod/sumdb/note: signatures by unknown keys are ignored, a
signature by a known key that fails is an error, and at least one known key must have signed.
Everything is pure: no I/O, no clock (pass ``now`` to reject cosignatures from the future).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Self

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..errors import VerificationError
from . import keys

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "Checkpoint",
    "CheckpointError",
    "Note",
    "NoteSignature",
    "Signer",
    "Verifier",
    "Witness",
    "WitnessSigner",
    "key_id",
    "note_signers",
    "open_note",
    "sign_checkpoint",
    "sign_note",
    "verify_checkpoint",
    "verify_cosignatures",
]

#: signed-note signature type of plain Ed25519 signatures.
ALG_ED25519 = 0x01
#: signed-note signature type of timestamped Ed25519 witness cosignatures (tlog-cosignature).
ALG_COSIGNATURE_V1 = 0x04
#: Largest note accepted, in UTF-8 bytes: room for well over 16 post-quantum signatures, which
#: C2SP requires verifiers to accept, while bounding the work an attacker can cause.
MAX_NOTE_BYTES = 256 * 1024
#: Most signature lines accepted in one note (the limit golang.org/x/mod/sumdb/note applies).
MAX_SIGNATURES = 100

_EM_DASH_PREFIX = "\u2014 "
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
_SIZE = re.compile(r"0|[1-9][0-9]*")
_MAX_TIMESTAMP = 2**63 - 1
_MAX_TREE_SIZE = 2**64 - 1
#: Cosignatures up to this many seconds ahead of ``now`` are tolerated (clock skew).
_FUTURE_SKEW = 300


class CheckpointError(VerificationError):
    """A signed note, key or checkpoint is malformed or does not verify."""

    code = "bad_checkpoint"


# --------------------------------------------------------------------------- keys


def _is_space(ch: str) -> bool:
    # Go's unicode.IsSpace: the ASCII spaces, U+0085, U+00A0 and the Z categories.
    return ch.isspace() or ch in "\x85\xa0" or unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def _check_name(name: object, what: str = "key name") -> str:
    """C2SP key name: non-empty, no Unicode spaces, no '+', (here also) no control characters."""
    if not isinstance(name, str) or not name:
        raise CheckpointError(f"{what} must be a non-empty string")
    if "+" in name:
        raise CheckpointError(f"{what} {name!r} must not contain '+'")
    for ch in name:
        if _is_space(ch) or ord(ch) < 0x20 or ord(ch) == 0x7F:
            raise CheckpointError(f"{what} {name!r} must not contain spaces or control characters")
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise CheckpointError(f"{what} {name!r} is not valid Unicode")
    return name


def key_id(name: str, pub: bytes, alg: int = ALG_ED25519) -> bytes:
    """signed-note key ID: the first 4 bytes of ``SHA-256(name || 0x0A || alg || pub)``."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + pub).digest()[:4]


def _b64decode(text: str, what: str) -> bytes:
    """Standard padded base64 (RFC 4648 section 4); refuses other alphabets and bad padding."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise CheckpointError(f"{what} is not standard base64") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _parse_vkey(vkey: str, alg: int, what: str) -> tuple[str, bytes, bytes]:
    if not isinstance(vkey, str):
        raise CheckpointError(f"{what} must be a string")
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise CheckpointError(f"{what} must look like name+hexkeyid+base64key")
    name, hex_id, b64 = parts
    _check_name(name, f"{what}: name")
    if not _HEX8.fullmatch(hex_id):
        raise CheckpointError(f"{what}: key id {hex_id!r} must be 8 hex digits")
    raw = _b64decode(b64, f"{what}: key")
    if not raw:
        raise CheckpointError(f"{what}: key is empty")
    if raw[0] != alg:
        raise CheckpointError(f"{what}: signature type 0x{raw[0]:02x}, want 0x{alg:02x}")
    pub = raw[1:]
    if len(pub) != 32:
        raise CheckpointError(f"{what}: Ed25519 public key has {len(pub)} bytes, want 32")
    kid = bytes.fromhex(hex_id)
    if kid != key_id(name, pub, alg):
        raise CheckpointError(
            f"{what}: key id {hex_id} does not match its name and key "
            f"(want {key_id(name, pub, alg).hex()})"
        )
    return name, kid, pub


def _check_key(name: str, kid: bytes, pub: bytes, alg: int, what: str) -> None:
    _check_name(name, f"{what} name")
    if not isinstance(pub, bytes) or len(pub) != 32:
        raise CheckpointError(f"{what} public key must be 32 bytes")
    if kid != key_id(name, pub, alg):
        raise CheckpointError(f"{what} key id {bytes(kid).hex()} does not match name and key")


@dataclass(frozen=True)
class _PublicKey:
    """A signed-note public key ``name+hexkeyid+base64(alg || pub)`` of algorithm ``ALG``.

    Raises (on construction):
        CheckpointError: invalid name, a public key that is not 32 bytes, or a wrong key id.
    """

    ALG: ClassVar[int]
    WHAT: ClassVar[str]

    name: str
    key_id: bytes
    pub: bytes

    def __post_init__(self) -> None:
        _check_key(self.name, self.key_id, self.pub, self.ALG, self.WHAT)

    @classmethod
    def from_public(cls, name: str, pub: bytes) -> Self:
        """The key for ``name`` and a raw 32-byte Ed25519 public key."""
        _check_name(name)
        return cls(name, key_id(name, pub, cls.ALG), pub)

    @classmethod
    def parse(cls, vkey: str) -> Self:
        """Parse ``name+hexkeyid+base64(alg || pub)`` (surrounding whitespace is ignored).

        Raises:
            CheckpointError: malformed, another key type, not a 32-byte key, or key id mismatch.
        """
        return cls(*_parse_vkey(vkey, cls.ALG, f"{cls.WHAT} key"))

    @property
    def vkey(self) -> str:
        """The key text ``name+hexkeyid+base64(alg || pub)``."""
        return f"{self.name}+{self.key_id.hex()}+{_b64(bytes([self.ALG]) + self.pub)}"


@dataclass(frozen=True)
class Verifier(_PublicKey):
    """A signed-note Ed25519 (type 0x01) verifier key: the log's public key."""

    ALG = ALG_ED25519
    WHAT = "verifier"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Ed25519 verification of ``signature`` (64 bytes) over ``message``."""
        return keys.verify(self.pub, signature, message)


@dataclass(frozen=True, eq=False)
class _SignerKey:
    """An Ed25519 private key under a signed-note key name, of signature type ``ALG``.

    Raises (on construction):
        CheckpointError: invalid name or a key that is not Ed25519.
    """

    ALG: ClassVar[int] = ALG_ED25519

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.private_key, Ed25519PrivateKey):
            raise CheckpointError("a note signer needs an Ed25519 private key")

    @classmethod
    def generate(cls, name: str) -> Self:
        """A signer with a fresh key from the operating system's CSPRNG."""
        return cls(name, keys.generate())

    @classmethod
    def parse(cls, skey: str) -> Self:
        """Parse ``PRIVATE+KEY+name+hexkeyid+base64(alg || 32-byte seed)``.

        Raises:
            CheckpointError: malformed, another signature type, or the key id does not match.
        """
        if not isinstance(skey, str):
            raise CheckpointError("signer key must be a string")
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise CheckpointError("signer key must look like PRIVATE+KEY+name+hexkeyid+base64key")
        _, _, name, hex_id, b64 = parts
        _check_name(name, "signer key name")
        if not _HEX8.fullmatch(hex_id):
            raise CheckpointError(f"signer key id {hex_id!r} must be 8 hex digits")
        raw = _b64decode(b64, "signer key")
        if not raw or raw[0] != cls.ALG:
            raise CheckpointError(f"signer key is not a type 0x{cls.ALG:02x} key")
        if len(raw) != 33:
            raise CheckpointError(f"signer key seed has {len(raw) - 1} bytes, want 32")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.key_id != bytes.fromhex(hex_id):
            raise CheckpointError(f"signer key id {hex_id} does not match its name and key")
        return signer

    @property
    def pub(self) -> bytes:
        """The raw 32-byte public key."""
        return keys.public_raw(self.private_key)

    @property
    def key_id(self) -> bytes:
        """The 4-byte signed-note key id."""
        return key_id(self.name, self.pub, self.ALG)

    @property
    def skey(self) -> str:
        """The secret signer key text; keep it secret."""
        seed = self.private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{_b64(bytes([self.ALG]) + seed)}"


@dataclass(frozen=True, eq=False)
class Signer(_SignerKey):
    """A signed-note Ed25519 (type 0x01) signer: the log's private key under a key name."""

    @property
    def verifier(self) -> Verifier:
        """The matching verifier key."""
        return Verifier(self.name, self.key_id, self.pub)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self.private_key.sign(message)


@dataclass(frozen=True, eq=False)
class WitnessSigner(_SignerKey):
    """A tlog-cosignature/v1 witness key (type 0x04): the counterpart of :class:`Witness`."""

    ALG = ALG_COSIGNATURE_V1

    @property
    def witness(self) -> Witness:
        """The matching witness (verifier) key."""
        return Witness(self.name, self.key_id, self.pub)

    def cosign(self, cp: Checkpoint, timestamp: int) -> str:
        """The cosignature/v1 signature line (ending in a newline) on ``cp`` at ``timestamp``
        (POSIX seconds, passed in: core reads no clock).

        Raises:
            CheckpointError: a timestamp outside ``0..2**63-1``.
        """
        if isinstance(timestamp, bool) or not isinstance(timestamp, int):
            raise CheckpointError("cosignature timestamp must be an integer")
        if not 0 <= timestamp <= _MAX_TIMESTAMP:
            raise CheckpointError(f"cosignature timestamp {timestamp} is out of range")
        sig = self.private_key.sign(_cosigned_message(timestamp, cp.text.encode("utf-8")))
        stamp = timestamp.to_bytes(8, "big")
        return f"{_EM_DASH_PREFIX}{self.name} {_b64(self.key_id + stamp + sig)}\n"


def _cosigned_message(timestamp: int, body: bytes) -> bytes:
    """What a tlog-cosignature/v1 signature signs: a header, then the checkpoint text."""
    return b"cosignature/v1\ntime " + str(timestamp).encode("ascii") + b"\n" + body


@dataclass(frozen=True)
class Witness(_PublicKey):
    """A tlog-cosignature/v1 witness key (signed-note type 0x04, timestamped Ed25519)."""

    ALG = ALG_COSIGNATURE_V1
    WHAT = "witness"


# --------------------------------------------------------------------------- notes


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note: key name, key id and the signature bytes after the id."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class Note:
    """An opened note: its text, the names whose signatures verified, and every signature line."""

    text: str
    verified: tuple[str, ...]
    signatures: tuple[NoteSignature, ...] = ()


def _check_text(text: str, what: str) -> bytes:
    """UTF-8 bytes of note material: valid Unicode, no control characters other than newline."""
    if len(text) > MAX_NOTE_BYTES:
        raise CheckpointError(f"{what} is larger than {MAX_NOTE_BYTES} bytes")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise CheckpointError(f"{what} is not valid UTF-8 text") from None
    if len(raw) > MAX_NOTE_BYTES:
        raise CheckpointError(f"{what} is larger than {MAX_NOTE_BYTES} bytes")
    for ch in text:
        if ord(ch) < 0x20 and ch != "\n":
            raise CheckpointError(f"{what} contains the control character U+{ord(ch):04X}")
    return raw


def _as_text(note: str | bytes) -> str:
    if isinstance(note, bytes | bytearray):
        if len(note) > MAX_NOTE_BYTES:
            raise CheckpointError(f"note is larger than {MAX_NOTE_BYTES} bytes")
        try:
            return bytes(note).decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("note is not valid UTF-8") from None
    if not isinstance(note, str):
        raise CheckpointError("note must be text")
    return note


def _parse_note(note: str | bytes) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signature lines (nothing is verified here)."""
    msg = _as_text(note)
    _check_text(msg, "note")
    split = msg.rfind("\n\n")
    if split < 0:
        raise CheckpointError("note has no blank line before its signatures")
    text, block = msg[: split + 1], msg[split + 2 :]
    if not block:
        raise CheckpointError("note has no signature lines")
    if not block.endswith("\n"):
        raise CheckpointError("note does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"note has more than {MAX_SIGNATURES} signatures")
    sigs: list[NoteSignature] = []
    for n, line in enumerate(lines, 1):
        if not line.startswith(_EM_DASH_PREFIX):
            raise CheckpointError(f"signature line {n} does not start with an em dash and a space")
        name, sep, b64 = line[len(_EM_DASH_PREFIX) :].partition(" ")
        if not sep or not b64:
            raise CheckpointError(f"signature line {n} has no signature")
        _check_name(name, f"signature line {n} key name")
        raw = _b64decode(b64, f"signature line {n}")
        if len(raw) < 5:
            raise CheckpointError(f"signature line {n} is too short")
        sigs.append(NoteSignature(name, raw[:4], raw[4:]))
    return text, sigs


def _index(
    known: Sequence[Verifier] | Sequence[Witness],
) -> dict[tuple[str, bytes], bytes]:
    table: dict[tuple[str, bytes], bytes] = {}
    for v in known:
        k = (v.name, v.key_id)
        if k in table and table[k] != v.pub:
            raise CheckpointError(
                f"ambiguous keys: two different keys for {v.name}+{v.key_id.hex()}"
            )
        table[k] = v.pub
    return table


def _known_once(
    sigs: Sequence[NoteSignature], known: Mapping[tuple[str, bytes], bytes]
) -> Iterator[tuple[NoteSignature, bytes]]:
    """Each signature line by a known key, with that key; a repeated line by the same key
    is skipped (as golang.org/x/mod/sumdb/note does)."""
    seen: set[tuple[str, bytes]] = set()
    for sig in sigs:
        k = (sig.name, sig.key_id)
        pub = known.get(k)
        if pub is None or k in seen:
            continue
        seen.add(k)
        yield sig, pub


def open_note(note: str | bytes, verifiers: Sequence[Verifier]) -> Note:
    """Parse a signed note and verify its signatures by the known ``verifiers``.

    Signatures by unknown keys (name and key id not both matching a verifier) are ignored; a
    repeated signature by the same key is ignored after the first.

    Raises:
        CheckpointError: the note is malformed or too large, a signature by a known key fails,
            or no known key signed it.
    """
    text, sigs = _parse_note(note)
    known = _index(verifiers)
    message = text.encode("utf-8")
    verified: list[str] = []
    for sig, pub in _known_once(sigs, known):
        if not keys.verify(pub, sig.signature, message):
            raise CheckpointError(
                f"the signature by {sig.name}+{sig.key_id.hex()} does not verify: the note was "
                "altered or signed with another key"
            )
        verified.append(sig.name)
    if not verified:
        names = sorted({f"{v.name}+{v.key_id.hex()}" for v in verifiers}) or ["(none given)"]
        raise CheckpointError(f"note has no valid signature by a trusted key ({', '.join(names)})")
    return Note(text, tuple(verified), tuple(sigs))


def note_signers(note: str | bytes) -> tuple[NoteSignature, ...]:
    """The signature lines of a note, each with its key name and key id; NOTHING is verified
    (to say who signed a note that a trusted key did not).

    Raises:
        CheckpointError: the note is malformed.
    """
    return tuple(_parse_note(note)[1])


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    """Sign ``text`` (which must end with a newline) with every signer, in order.

    Raises:
        CheckpointError: no signers, text without a final newline, with control characters, or
            too large.
    """
    if not signers:
        raise CheckpointError("a note needs at least one signer")
    if len(signers) > MAX_SIGNATURES:
        raise CheckpointError(f"a note carries at most {MAX_SIGNATURES} signatures")
    if not isinstance(text, str) or not text.endswith("\n"):
        raise CheckpointError("note text must end with a newline")
    message = _check_text(text, "note text")
    lines = []
    for s in signers:
        sig = s.sign(message)
        lines.append(f"{_EM_DASH_PREFIX}{s.name} {_b64(s.key_id + sig)}\n")
    out = text + "\n" + "".join(lines)
    if len(out.encode("utf-8")) > MAX_NOTE_BYTES:
        raise CheckpointError(f"signed note would be larger than {MAX_NOTE_BYTES} bytes")
    return out


# --------------------------------------------------------------------------- checkpoints


def _check_line(line: object, what: str) -> str:
    if not isinstance(line, str) or not line:
        raise CheckpointError(f"checkpoint {what} must be a non-empty string")
    for ch in line:
        if ord(ch) < 0x20:
            raise CheckpointError(f"checkpoint {what} contains a newline or control character")
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise CheckpointError(f"checkpoint {what} is not valid Unicode")
    return line


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint body: origin, tree size, root hash, optional extension lines.

    Raises (on construction):
        CheckpointError: empty origin or extension line, a newline or control character in
            them, a size outside ``0..2**64-1``, or a root that is not 32 bytes.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if (
            not isinstance(self.size, int)
            or isinstance(self.size, bool)
            or not 0 <= self.size <= _MAX_TREE_SIZE
        ):
            raise CheckpointError(f"checkpoint size must be an integer in 0..2^64-1: {self.size!r}")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            raise CheckpointError("checkpoint root hash must be 32 bytes")
        if not isinstance(self.extensions, tuple):
            raise CheckpointError("checkpoint extensions must be a tuple of lines")
        for ext in self.extensions:
            _check_line(ext, "extension line")

    @property
    def text(self) -> str:
        """The note text ``origin\\nsize\\nbase64(root)\\n`` plus one line per extension."""
        head = f"{self.origin}\n{self.size}\n{_b64(self.root)}\n"
        return head + "".join(f"{ext}\n" for ext in self.extensions)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse checkpoint note text strictly.

        Raises:
            CheckpointError: fewer than three lines, no final newline, an empty line, a size
                that is not canonical decimal, or a root that is not canonical base64 of 32 bytes.
        """
        if not isinstance(text, str) or not text.endswith("\n"):
            raise CheckpointError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("checkpoint needs an origin, a size and a root hash line")
        origin, size_s, root_s, *ext = lines
        if not origin:
            raise CheckpointError("checkpoint origin line is empty")
        if not _SIZE.fullmatch(size_s):
            raise CheckpointError(
                f"checkpoint size {size_s!r} is not a decimal number without leading zeros"
            )
        size = int(size_s)
        if size > _MAX_TREE_SIZE:
            raise CheckpointError("checkpoint size does not fit in 64 bits")
        root = _b64decode(root_s, "checkpoint root hash")
        if len(root) != 32 or _b64(root) != root_s:
            raise CheckpointError("checkpoint root hash must be canonical base64 of 32 bytes")
        if any(not e for e in ext):
            raise CheckpointError("checkpoint extension lines must not be empty")
        return cls(origin, size, root, tuple(ext))


def sign_checkpoint(cp: Checkpoint, signer: Signer) -> str:
    """The signed note of ``cp`` by ``signer`` (the log key).

    Raises:
        CheckpointError: the checkpoint text cannot be signed (see :func:`sign_note`).
    """
    return sign_note(cp.text, [signer])


def verify_checkpoint(
    note: str | bytes,
    verifier: Verifier,
    *,
    origin: str | None = None,
    witnesses: Sequence[Witness] = (),
    quorum: int = 0,
    now: int | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint under the log key and parse it.

    Args:
        note: the signed note text.
        verifier: the trusted log key.
        origin: when given, the checkpoint's origin line must equal it.
        witnesses, quorum, now: when ``quorum > 0``, at least ``quorum`` of ``witnesses`` must
            have cosigned (see :func:`verify_cosignatures`).

    Raises:
        CheckpointError: bad note or signature, malformed checkpoint, wrong origin, or too few
            witness cosignatures.
    """
    opened = open_note(note, [verifier])
    cp = Checkpoint.parse(opened.text)
    if origin is not None and cp.origin != origin:
        raise CheckpointError(f"checkpoint origin is {cp.origin!r}, expected {origin!r}")
    if quorum > 0:
        verify_cosignatures(note, witnesses, quorum, now=now)
    return cp


def verify_cosignatures(
    note: str | bytes,
    witnesses: Sequence[Witness],
    quorum: int,
    *,
    now: int | None = None,
) -> tuple[str, ...]:
    """Check that at least ``quorum`` distinct ``witnesses`` cosigned the checkpoint note.

    Only tlog-cosignature/v1 (type 0x04) signatures by the given witnesses count; other lines
    are ignored. This does NOT check the log's own signature: use :func:`verify_checkpoint`.

    Args:
        note: the signed checkpoint note.
        witnesses: the trusted witness keys.
        quorum: how many distinct witnesses must have cosigned (0 accepts any note).
        now: current POSIX time; when given, cosignatures more than 300 s in the future fail.

    Returns:
        The names of the witnesses whose cosignature verified, in note order.

    Raises:
        CheckpointError: malformed note, a failing cosignature by a known witness, an impossible
            quorum, or fewer than ``quorum`` valid cosignatures.
    """
    if not isinstance(quorum, int) or quorum < 0:
        raise CheckpointError("witness quorum must be a non-negative integer")
    known = _index(witnesses)
    if quorum > len(known):
        raise CheckpointError(f"witness quorum {quorum} exceeds the {len(known)} known witnesses")
    text, sigs = _parse_note(note)
    body = text.encode("utf-8")
    good: list[str] = []
    for sig, pub in _known_once(sigs, known):
        if len(sig.signature) != 8 + 64:
            raise CheckpointError(f"cosignature by {sig.name} is not a timestamped signature")
        ts = int.from_bytes(sig.signature[:8], "big")
        if ts > _MAX_TIMESTAMP:
            raise CheckpointError(f"cosignature by {sig.name} has an impossible timestamp")
        if now is not None and ts > now + _FUTURE_SKEW:
            raise CheckpointError(f"cosignature by {sig.name} is dated in the future ({ts})")
        if not keys.verify(pub, sig.signature[8:], _cosigned_message(ts, body)):
            raise CheckpointError(f"cosignature by witness {sig.name} does not verify")
        good.append(sig.name)
    if len(good) < quorum:
        raise CheckpointError(
            f"only {len(good)} of the required {quorum} witness cosignatures verified"
        )
    return tuple(good)
