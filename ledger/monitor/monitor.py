"""One monitor run: checkpoints compared, new entries scanned, findings reported (spec §5.11).

The monitor trusts only the log key. Every checkpoint it sees — the log's latest, the one its
state file recorded, and any seen elsewhere (a witness's cosigned view, another auditor's) — is
compared with the log's latest: two roots at one size are a ``split_view``; a smaller tree is
checked with the log's consistency proof (``inconsistent`` when it does not verify); a tree larger
than the one the log now serves is a ``rollback``. Only a consistent latest checkpoint moves the
state forward. The scan reads the new entries (event hashes) from the tiles, fetches each event
the token may read, checks it against its hash and its inclusion proof, and reports every event
by the watched party (its actor, or a key of it) that the party's journal does not list.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..client import ApiError, LedgerClient
from ..core import merkle
from ..core.checkpoint import Checkpoint, CheckpointError, Verifier, verify_checkpoint
from ..core.events import event_from_json
from ..core.tiles import TILE_WIDTH, Tile, TileError, decode_entry_bundle, tile_width
from ..errors import LedgerError

__all__ = ["Finding", "Monitor", "MonitorError", "Report", "State", "load_state", "save_state"]

#: findings that concern the log's consistency: the state does not move on after one
CONSISTENCY = frozenset({"split_view", "inconsistent", "rollback", "bad_checkpoint"})


class MonitorError(LedgerError):
    """The state file is unusable (the monitor cannot tell where it stopped)."""

    code = "bad_state"


@dataclass(frozen=True)
class Finding:
    """One finding: its ``code``, a sentence, and the facts (hashes, sizes, sources)."""

    code: str
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"finding": self.code, **self.facts, "detail": self.detail}


@dataclass(frozen=True)
class State:
    """Where the monitor stopped: the last verified checkpoint and how far it scanned."""

    origin: str
    size: int
    root: bytes
    scanned: int = 0

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.origin, self.size, self.root)

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "size": self.size,
            "root": _b64(self.root),
            "scanned": self.scanned,
        }

    @classmethod
    def from_json(cls, obj: Any) -> State:
        """Raises MonitorError: not a state object."""
        try:
            if not isinstance(obj, dict):
                raise TypeError("not an object")
            origin, size, scanned = obj["origin"], obj["size"], obj.get("scanned", 0)
            if not isinstance(origin, str) or not isinstance(size, int) or size < 0:
                raise TypeError("origin or size")
            if not isinstance(scanned, int) or not 0 <= scanned <= size:
                raise TypeError("scanned")
            root = base64.b64decode(obj["root"], validate=True)
            return cls(origin, size, Checkpoint(origin, size, root).root, scanned)
        except (KeyError, TypeError, ValueError, binascii.Error, CheckpointError) as e:
            raise MonitorError(f"the monitor state is malformed ({e}): fix or remove it") from e


def load_state(path: Path) -> State | None:
    """The state in ``path`` (``None`` when there is no file yet).

    Raises:
        MonitorError: the file cannot be read or is not a state.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise MonitorError(f"cannot read the monitor state {path}: {e}") from e
    try:
        return State.from_json(json.loads(text))
    except ValueError as e:
        raise MonitorError(f"the monitor state {path} is not JSON: {e}") from e


def save_state(path: Path, state: State) -> None:
    """Write ``state`` atomically: a temporary file in the same folder, flushed to disk, then
    renamed over ``path`` (a crash leaves the old state or the new one, never a mixture).

    Raises:
        MonitorError: the state cannot be written.
    """
    text = json.dumps(state.to_json(), indent=1) + "\n"
    folder = path.resolve().parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise MonitorError(f"cannot write the monitor state {path}: {e}") from e


@dataclass
class Report:
    """What one run found and the state to keep."""

    findings: list[Finding]
    state: State | None
    checkpoint: Checkpoint | None = None
    events: int = 0  # entries whose event was read
    unseen: int = 0  # entries the token may not read (404)

    @property
    def summary(self) -> dict[str, Any]:
        cp = self.checkpoint
        return {
            "summary": {
                "origin": cp.origin if cp else None,
                "size": cp.size if cp else None,
                "root": _b64(cp.root) if cp else None,
                "scanned": self.state.scanned if self.state else None,
                "events_read": self.events,
                "events_unseen": self.unseen,
                "findings": len(self.findings),
            }
        }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _hashes(proof: Sequence[str]) -> list[bytes]:
    try:
        return [base64.b64decode(h, validate=True) for h in proof]
    except (binascii.Error, ValueError) as e:
        raise merkle.ProofError(f"a proof hash is not base64: {e}") from e


class Monitor:
    """Monitors one log through ``sdk`` (its token reads the events; the log routes need none).

    Args:
        sdk: a client of the ledger.
        log_key: the log's verifier key (its name is the origin).
        party: the party whose events are checked against ``journal``; ``None``: no scan.
        kids: the party's key ids (events signed with them are the party's too).
        journal: the hashes the party's journal lists.
    """

    def __init__(
        self,
        sdk: LedgerClient,
        log_key: Verifier,
        *,
        party: str | None = None,
        kids: frozenset[str] = frozenset(),
        journal: frozenset[str] = frozenset(),
    ) -> None:
        self.sdk = sdk
        self.log_key = log_key
        self.party = party
        self.kids = kids
        self.journal = journal
        self._verified: dict[str, Checkpoint] = {}  # event checkpoints already compared

    # checkpoints ------------------------------------------------------------------------
    def _verify(self, note: str, source: str, findings: list[Finding]) -> Checkpoint | None:
        try:
            return verify_checkpoint(note, self.log_key, origin=self.log_key.name)
        except CheckpointError as e:
            findings.append(Finding("bad_checkpoint", f"{source}: {e.message}", {"source": source}))
            return None

    def compare(self, seen: Checkpoint, source: str, latest: Checkpoint) -> Finding | None:
        """Check a checkpoint seen elsewhere against the log's ``latest``."""
        facts: dict[str, Any] = {
            "source": source,
            "size": seen.size,
            "root": _b64(seen.root),
            "log_size": latest.size,
            "log_root": _b64(latest.root),
        }
        if seen.size == latest.size:
            if seen.root != latest.root:
                return Finding("split_view", f"{source}: two roots at size {seen.size}", facts)
            return None
        if seen.size > latest.size:
            return Finding(
                "rollback",
                f"{source}: the log signed size {seen.size}, now serves {latest.size}",
                facts,
            )
        if seen.size == 0:
            return None
        try:
            out = self.sdk.consistency_proof(seen.size, latest.size)
            merkle.verify_consistency(
                seen.size, latest.size, _hashes(out.proof), seen.root, latest.root
            )
        except (merkle.ProofError, ApiError) as e:
            return Finding(
                "inconsistent",
                f"{source}: size {seen.size} is not a prefix of size {latest.size}: {e}",
                facts,
            )
        return None

    def check(
        self,
        state: State | None,
        others: Sequence[tuple[str, str]],
        findings: list[Finding],
    ) -> Checkpoint | None:
        """The log's latest checkpoint, compared with the state's and ``others`` (source, note);
        ``None`` when it does not verify."""
        latest = self._verify(self.sdk.checkpoint(), "log", findings)
        if latest is None:
            return None
        seen: list[tuple[str, Checkpoint]] = []
        if state is not None:
            if state.origin != latest.origin:
                raise MonitorError(
                    f"the state is of log {state.origin!r}, the log key of {latest.origin!r}"
                )
            seen.append(("state", state.checkpoint))
        for source, note in others:
            cp = self._verify(note, source, findings)
            if cp is not None:
                seen.append((source, cp))
        for source, cp in seen:
            found = self.compare(cp, source, latest)
            if found is not None:
                findings.append(found)
        # views the log no longer serves, compared among themselves
        ahead = [(s, cp) for s, cp in seen if cp.size > latest.size]
        for i, (s1, a) in enumerate(ahead):
            for s2, b in ahead[i + 1 :]:
                if a.size == b.size and a.root != b.root:
                    findings.append(
                        Finding(
                            "split_view",
                            f"{s1} and {s2}: two roots at size {a.size}",
                            {"source": s1, "other": s2, "size": a.size},
                        )
                    )
        return latest

    # the scan ---------------------------------------------------------------------------
    def entries(self, start: int, size: int) -> Iterator[tuple[int, bytes]]:
        """``(index, entry)`` for the log indexes ``start`` to ``size - 1``, from the tiles.

        Raises:
            TileError: an entry bundle is malformed.
        """
        for n in range(start // TILE_WIDTH, -(-size // TILE_WIDTH)):
            width = tile_width(0, n, size)
            bundle = decode_entry_bundle(self.sdk.tile(Tile(-1, n, width).path()))
            if len(bundle) != width:
                raise TileError(f"entry bundle {n} has {len(bundle)} entries, not {width}")
            for i, entry in enumerate(bundle):
                index = n * TILE_WIDTH + i
                if index >= start:
                    yield index, entry

    def _event_checkpoint(self, note: str, latest: Checkpoint) -> Checkpoint:
        """An event's checkpoint, verified and consistent with ``latest`` (cached).

        Raises:
            CheckpointError, ProofError: it is not.
        """
        if note not in self._verified:
            cp = verify_checkpoint(note, self.log_key, origin=self.log_key.name)
            small, big = (cp, latest) if cp.size <= latest.size else (latest, cp)
            if small.size == big.size and small.root != big.root:
                raise merkle.ProofError(f"two roots at size {cp.size}")
            if 0 < small.size < big.size:
                out = self.sdk.consistency_proof(small.size, big.size)
                merkle.verify_consistency(
                    small.size, big.size, _hashes(out.proof), small.root, big.root
                )
            self._verified[note] = cp
        return self._verified[note]

    def scan(self, start: int, latest: Checkpoint, report: Report) -> None:
        """Read the entries ``start …`` of ``latest`` and report the party's unjournaled events."""
        try:
            for index, entry in self.entries(start, latest.size):
                self._scan_one(index, entry, latest, report)
        except TileError as e:
            report.findings.append(Finding("bad_entry", f"the tiles are malformed: {e.message}"))

    def _scan_one(self, index: int, entry: bytes, latest: Checkpoint, report: Report) -> None:
        if len(entry) != merkle.HASH_SIZE:
            report.findings.append(
                Finding("bad_entry", "an entry is not a 32-byte event hash", {"seq": index})
            )
            return
        digest = entry.hex()
        try:
            out = self.sdk.event(digest)
        except ApiError as e:
            if e.code != "not_found":
                raise
            report.unseen += 1
            return
        report.events += 1
        try:
            ev = event_from_json(out.event)
            cp = self._event_checkpoint(out.checkpoint, latest)
            if ev.hash != digest or out.seq != index or out.proof.index != index:
                raise merkle.ProofError("the event answered is not the entry at this index")
            if out.proof.size != cp.size:
                raise merkle.ProofError("the proof is not against the checkpoint answered")
            merkle.verify_inclusion(
                merkle.leaf_hash(entry), index, cp.size, _hashes(out.proof.proof), cp.root
            )
        except LedgerError as e:
            report.findings.append(
                Finding("bad_entry", f"entry {index}: {e.message}", {"seq": index, "hash": digest})
            )
            return
        if (ev.actor == self.party or ev.kid in self.kids) and digest not in self.journal:
            report.findings.append(
                Finding(
                    "unjournaled_event",
                    f"{ev.type} signed by {ev.actor}'s key {ev.kid} is not in the journal",
                    {
                        "hash": digest,
                        "seq": index,
                        "id": ev.id,
                        "type": ev.type,
                        "actor": ev.actor,
                        "kid": ev.kid,
                        "time": ev.time,
                    },
                )
            )

    # one run ----------------------------------------------------------------------------
    def run(
        self, state: State | None, others: Sequence[tuple[str, str]] = (), *, start: int = 0
    ) -> Report:
        """One pass: compare checkpoints, scan the new entries (when a party is watched).

        ``start`` is where a first run (no state) starts scanning. The returned state is the
        input one unless the log's latest checkpoint was consistent with everything seen.

        Raises:
            ClientError: the ledger cannot be reached, or refused a read.
            MonitorError: the state is of another log.
        """
        findings: list[Finding] = []
        latest = self.check(state, others, findings)
        report = Report(findings, state, latest)
        if latest is None or any(f.code in CONSISTENCY for f in findings):
            return report
        scanned = state.scanned if state is not None else min(start, latest.size)
        if self.party is not None:
            self.scan(scanned, latest, report)
            if not any(f.code == "bad_entry" for f in report.findings):
                scanned = latest.size  # else read those entries again next time
        report.state = State(latest.origin, latest.size, latest.root, scanned)
        return report
