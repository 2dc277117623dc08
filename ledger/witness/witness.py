"""The add-checkpoint protocol of c2sp.org/tlog-witness, without HTTP: parse, check, cosign.

:meth:`WitnessService.add_checkpoint` takes the request body and returns the cosignature lines,
or raises :class:`Refusal` carrying the HTTP status the spec asks for (400 malformed, 403 no
trusted signature, 404 unknown origin, 409 stale ``old`` size or another root at the same size,
422 a consistency proof that does not verify).
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..core.checkpoint import (
    MAX_NOTE_BYTES,
    Checkpoint,
    CheckpointError,
    Verifier,
    WitnessSigner,
    note_signers,
    open_note,
)
from ..core.merkle import ProofError, verify_consistency
from .store import LogState, WitnessStore

__all__ = ["MAX_BODY_BYTES", "MAX_PROOF_LINES", "AddCheckpoint", "Refusal", "WitnessService"]

#: The spec's limit on consistency proof lines.
MAX_PROOF_LINES = 63
#: Largest request body: a largest note plus the old line and a longest proof.
MAX_BODY_BYTES = MAX_NOTE_BYTES + 64 * (MAX_PROOF_LINES + 1)
#: Sizes the store keeps (a signed 64-bit column).
_MAX_SIZE = 2**63 - 1
_OLD = re.compile(r"old (0|[1-9][0-9]{0,19})")


class Refusal(Exception):
    """A request the witness refuses: its HTTP ``status``, a message, and for 409 on a stale
    ``old`` size the witness's current ``size`` (sent as ``text/x.tlog.size``)."""

    def __init__(self, status: int, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.size = size


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed add-checkpoint request body: ``old <size>``, proof lines, a blank line, a note."""

    old: int
    proof: tuple[bytes, ...]
    note: str

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """Raises Refusal(400) when the body is not the spec's format."""
        if len(body) > MAX_BODY_BYTES:
            raise Refusal(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Refusal(400, "request body is not UTF-8") from None
        head, sep, note = text.partition("\n\n")
        if not sep:
            raise Refusal(400, "request has no empty line before the checkpoint")
        lines = head.split("\n")
        m = _OLD.fullmatch(lines[0])
        if m is None:
            raise Refusal(400, "the first line must be `old <size>` (decimal, no leading zeros)")
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise Refusal(400, f"more than {MAX_PROOF_LINES} consistency proof lines")
        proof = []
        for n, line in enumerate(lines[1:], 1):
            try:
                h = base64.b64decode(line.encode("ascii"), validate=True)
            except (UnicodeEncodeError, binascii.Error, ValueError):
                raise Refusal(400, f"proof line {n} is not base64") from None
            if len(h) != 32:
                raise Refusal(400, f"proof line {n} is not a 32-byte hash")
            proof.append(h)
        return cls(int(m.group(1)), tuple(proof), note)


class WitnessService:
    """A witness: its key, the logs it knows (origin -> trusted log keys), its store, a clock."""

    def __init__(
        self,
        signer: WitnessSigner,
        logs: Mapping[str, Sequence[Verifier]],
        store: WitnessStore,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        self.logs = {origin: tuple(keys) for origin, keys in logs.items()}
        self.store = store
        self.clock = clock

    def add_checkpoint(self, body: bytes) -> str:
        """The cosignature line for the checkpoint in ``body``, after every check of the spec
        passed and the new state was stored. Raises Refusal."""
        req = AddCheckpoint.parse(body)
        cp = self._open(req.note)
        if req.old > cp.size:
            raise Refusal(400, f"old size {req.old} is larger than the checkpoint's {cp.size}")
        state = self.store.get(cp.origin)
        self._check(cp, req, state)
        now = int(self.clock())
        line = self.signer.cosign(cp, now)
        new = LogState(cp.size, cp.root)
        if not self.store.advance(
            cp.origin, state, new, note=req.note, cosignature=line, cosigned_at=now
        ):
            current = self.store.get(cp.origin)
            size = 0 if current is None else current.size
            raise Refusal(409, f"the witness moved on to size {size} meanwhile", size)
        return line

    def _open(self, note: str) -> Checkpoint:
        try:
            note_signers(note)  # the format, before any key is looked up
            origin = note.partition("\n")[0]
            verifiers = self.logs.get(origin)
            if verifiers is None:
                raise Refusal(404, f"unknown log origin {origin!r}")
            try:
                opened = open_note(note, verifiers)
            except CheckpointError as e:
                raise Refusal(403, f"no valid signature by a key of {origin!r}: {e}") from e
            cp = Checkpoint.parse(opened.text)
        except CheckpointError as e:
            raise Refusal(400, f"malformed checkpoint: {e}") from e
        if cp.size > _MAX_SIZE:
            raise Refusal(400, f"checkpoint size {cp.size} is larger than this witness keeps")
        return cp

    @staticmethod
    def _check(cp: Checkpoint, req: AddCheckpoint, state: LogState | None) -> None:
        current = 0 if state is None else state.size
        if req.old != current:
            raise Refusal(409, f"old size {req.old}, but the witness is at {current}", current)
        if state is None or req.old == 0:
            if req.proof:
                raise Refusal(400, "the consistency proof must be empty when old is 0")
            if state is not None and cp.size == 0 and cp.root != state.root:
                raise Refusal(409, "another root at size 0 was cosigned", 0)
            return
        if cp.size == state.size and cp.root != state.root:
            raise Refusal(409, f"another root at size {cp.size} was cosigned", current)
        try:
            verify_consistency(state.size, cp.size, req.proof, state.root, cp.root)
        except ProofError as e:
            raise Refusal(422, f"consistency proof does not verify: {e}") from e
