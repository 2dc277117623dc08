"""Offline audit-bundle verification (spec §6). Pure: bundle and keys in, report out.

Steps, each failure reported with the entry it concerns:
 1. the checkpoint is signed by a trusted log key (and, when asked, a quorum of witnesses);
 2. every entry's inclusion proof at its ``seq`` against that checkpoint;
 3. every signature, by a key registered before the event and not revoked before it;
 4. every lot chain starts at its creation with ``prev`` links unbroken (no gap, no fork);
 5. a full replay of the custody and mass rules with the same ``ledger.core.rules`` the server runs.

Credits (mass-balance accounts) accrue from transforms outside a lot's provenance, so a bundle
cannot prove an account's balance: ``credit.allocate`` is replayed against an unbounded balance
and reported as a warning (``credits_unverifiable``); every other rule is checked in full.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..core import canonical, keys, merkle, rules
from ..core.checkpoint import Checkpoint, Verifier, Witness, verify_checkpoint
from ..core.events import SignedEvent, checked_event, event_from_json
from ..core.gc import gc_paused
from ..core.values import COMPROMISE_MARGIN_SECONDS
from ..errors import LedgerError, RuleViolation

__all__ = [
    "BUNDLE_FORMAT",
    "ENTRY_CHUNK",
    "CheckedEntry",
    "ChunkMap",
    "EntryTask",
    "Finding",
    "VerificationReport",
    "bundle_digest",
    "check_entries",
    "replay",
    "shared_entries",
    "verify_bundle",
]

#: The ``format`` member of an audit bundle (spec §6).
BUNDLE_FORMAT = "ltl-bundle/1"


@dataclass(frozen=True, slots=True)
class Finding:
    """One failure (or warning) of a verification, tied to an entry when it concerns one."""

    code: str
    message: str
    seq: int | None = None
    event_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "seq": self.seq, "event": self.event_id}


@dataclass(slots=True)
class VerificationReport:
    """The result of ``verify_bundle``: ``ok`` is True only when there is no error."""

    lot: str | None
    checkpoint: Checkpoint | None = None
    entries: int = 0
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    state: rules.MemoryState | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        lot = self.state.lot(self.lot) if self.state is not None and self.lot else None
        return {
            "valid": self.ok,
            "lot": self.lot,
            "checkpoint": None
            if self.checkpoint is None
            else {
                "origin": self.checkpoint.origin,
                "size": self.checkpoint.size,
                "root": base64.b64encode(self.checkpoint.root).decode(),
            },
            "entries": self.entries,
            "lot_state": None
            if lot is None
            else {
                "material": lot.material,
                "mass_kg": str(lot.mass),
                "custodian": lot.custodian,
                "status": lot.status,
                "head": lot.head,
            },
            "errors": [f.to_json() for f in self.errors],
            "warnings": [f.to_json() for f in self.warnings],
        }

    def to_text(self) -> str:
        lines = [f"bundle for lot {self.lot}: {'VALID' if self.ok else 'INVALID'}"]
        if self.checkpoint is not None:
            lines.append(
                f"  checkpoint: {self.checkpoint.origin} size {self.checkpoint.size} "
                f"root {base64.b64encode(self.checkpoint.root).decode()}"
            )
        lines.append(f"  entries verified: {self.entries}")
        data = self.to_json()["lot_state"]
        if data:
            lines.append(
                f"  lot: {data['material']}, {data['mass_kg']} kg, held by {data['custodian']} "
                f"({data['status']}), head {data['head'][:16]}…"
            )
        for title, items in (("error", self.errors), ("warning", self.warnings)):
            for f in items:
                where = f" [seq {f.seq}]" if f.seq is not None else ""
                lines.append(f"  {title}{where} {f.code}: {f.message}")
        return "\n".join(lines)


class _PathVerifier:
    """Inclusion proofs against one root, memoizing subtrees already proven to be in it.

    Entries of a bundle share most of their paths; once a recomputed subtree equals one already
    proven, the rest of the path is proven too. Results equal RFC 9162 verification.
    """

    def __init__(self, size: int, root: bytes) -> None:
        self.size = size
        self.root = root
        self.known: dict[tuple[int, int], bytes] = {(0, size): root}

    def verify(self, index: int, leaf: bytes, proof: Sequence[Any]) -> None:
        """Check ``proof`` (its hashes as valid base64, decoded only when reached)."""
        size = self.size
        if not 0 <= index < size:
            raise merkle.ProofError(f"index {index} is outside the tree of size {size}")
        # RFC 9162 path length: the levels below the split from the tree's right edge, plus
        # the left subtrees the path passes on that edge
        inner = (index ^ (size - 1)).bit_length()
        expected = inner + (index >> inner).bit_count()
        if len(proof) != expected:
            raise merkle.ProofError(f"proof has {len(proof)} hashes, expected {expected}")
        # Bottom up: every node of the tree is an aligned block [j * 2^h, (j + 1) * 2^h) cut at
        # ``size``, and a node's parent is the smallest such block strictly containing it. Most
        # entries meet a subtree proven by an earlier entry after a level or two.
        known = self.known
        h = leaf
        lo, hi, height = index, index + 1, 0
        computed: list[tuple[tuple[int, int], bytes]] = []
        for p in proof:
            node = (lo, hi)
            seen = known.get(node)
            if seen is not None:
                if seen != h:
                    raise merkle.ProofError("the proof does not lead to the checkpoint root")
                break
            computed.append((node, h))
            while True:
                height += 1
                up_lo = lo >> height << height
                up_hi = min(up_lo + (1 << height), size)
                if up_lo < lo or up_hi > hi:
                    break
            sibling = _b64_strict(p)
            if up_lo < lo:  # the sibling is on the left
                computed.append(((up_lo, lo), sibling))
                h = merkle.node_hash(sibling, h)
            else:
                computed.append(((hi, up_hi), sibling))
                h = merkle.node_hash(h, sibling)
            lo, hi = up_lo, up_hi
        else:
            if h != self.root:
                raise merkle.ProofError("the proof does not lead to the checkpoint root")
        for rng, value in computed:
            known.setdefault(rng, value)


class _Replay(rules.MemoryState):
    """The verifier's state: credit balances are not provable from a bundle (see module doc)."""

    def credit(self, account: tuple[str, str, str, str]) -> Decimal:
        return Decimal("1e30")


def replay(
    events: Iterable[tuple[int, SignedEvent]],
    config: rules.RuleConfig,
    *,
    verify_signature: bool = True,
) -> rules.MemoryState:
    """The state after ``(seq, event)`` pairs (in log order) went through the rules, credits
    unbounded as in the verifier; an event the rules refuse is left out."""
    state = _Replay()
    for seq, ev in events:
        try:
            state.accept(ev, seq=seq, now=None, config=config, verify_signature=verify_signature)
        except LedgerError:
            continue
    return state


_b64_strict = functools.partial(binascii.a2b_base64, strict_mode=True)

#: A ``map`` that may run ``fn`` in other processes (``multiprocessing.Pool.imap``,
#: ``concurrent.futures.Executor.map``): ``chunk_map(fn, tasks)`` yields ``fn(task)`` in order.
ChunkMap = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]

#: Entries per task handed to a ``ChunkMap``: big enough that the round trip costs little next
#: to the ~90 µs each entry takes (schema, canonical form, hash, Ed25519), small enough to
#: spread the work and let the replay start early.
ENTRY_CHUNK = 1000

#: The bundle entries a forked worker inherited (see ``shared_entries``): tasks then name a
#: range of positions instead of carrying the entries themselves.
_inherited: list[Any] = []


@contextmanager
def shared_entries(entries: list[Any]) -> Iterator[None]:
    """Make ``entries`` what ``check_entries`` reads for a task without entries of its own:
    worker processes forked inside this block inherit them (``verify_bundle(...,
    shared=True)``), so nothing but positions and results crosses between processes."""
    _inherited[:] = [entries]
    try:
        yield
    finally:
        _inherited.clear()


#: what ``check_entries`` returns per entry: a finding, or the entry's seq, canonical bytes,
#: hash, signature and the public key that signature verified under (None: not checked, or
#: invalid)
CheckedEntry = Finding | tuple[int, bytes, str, bytes, bytes | None]
#: a task of ``check_entries``: the first position, the entries (None: the inherited ones,
#: ``count`` of them), and kid -> public key as the bundle registered them before ``start``
EntryTask = tuple[int, int, list[Any] | None, dict[str, bytes]]


def check_entries(task: EntryTask) -> list[CheckedEntry]:
    """Check a run of bundle entries on their own: shape, proof encoding, the event's schema,
    canonical form and hash, and its Ed25519 signature under the latest key the bundle
    registered for its kid so far (the rules may pick another: the replay checks again then).

    Pure and picklable by name: what ``verify_bundle`` hands a ``chunk_map``'s workers.
    """
    start, count, chunk, known = task
    entries = chunk if chunk is not None else _inherited[0][start : start + count]
    pubs = dict(known)
    verify = keys.verify
    out: list[CheckedEntry] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries, start):
        item = _check_entry(entry, position, seen)
        if isinstance(item, Finding):
            out.append(item)
            continue
        seq, ev, _ = item
        _learn(pubs, ev)
        pub = pubs.get(ev.kid)
        if pub is not None and not verify(pub, ev.sig, ev.signing_input):
            pub = None
        out.append((seq, ev.canonical, ev.hash, ev.sig, pub))
    return out


_KEY_EVENTS = frozenset({"party.register", "key.add"})


def _learn(pubs: dict[str, bytes], ev: SignedEvent) -> None:
    """Remember the keys a (schema-valid) event registers; whether the rules let it register
    them is the replay's business: a key they refuse only costs a wasted check."""
    if ev.type == "party.register":
        found = ev.body["keys"]
    elif ev.type == "key.add":
        found = [ev.body["key"]]
    else:
        return
    for k in found:
        try:
            pubs[k["kid"]] = keys.b64url_decode(k["pub"])
        except LedgerError:
            continue


def _scan_keys(pubs: dict[str, bytes], entry: Any) -> None:
    """``_learn`` from a raw, unchecked entry (a guess: anything odd is skipped)."""
    try:
        obj = entry["event"]
        if obj["type"] in _KEY_EVENTS:
            _learn(pubs, event_from_json(obj))
    except (LedgerError, LookupError, TypeError):
        return


def _tasks(entries: list[Any], shared: bool) -> Iterator[EntryTask]:
    pubs: dict[str, bytes] = {}
    for start in range(0, len(entries), ENTRY_CHUNK):
        chunk = entries[start : start + ENTRY_CHUNK]
        yield (start, len(chunk), None if shared else chunk, dict(pubs))
        for entry in chunk:
            _scan_keys(pubs, entry)


_ENTRY_MEMBERS = frozenset({"seq", "event", "proof"})


def _entry_fields(entry: Any, seen: set[str]) -> tuple[int, Any, list[Any]]:
    """An entry's seq, event and proof, the proof's hashes checked to be base64 (``seen``:
    the strings already checked; most recur from entry to entry, the tree's upper levels)."""
    if not isinstance(entry, Mapping) or entry.keys() != _ENTRY_MEMBERS:
        raise ValueError("an entry must have exactly seq, event and proof")
    seq, proof = entry["seq"], entry["proof"]
    if type(seq) is not int or seq < 0:
        raise ValueError("seq must be a non-negative integer")
    if type(proof) is not list:
        raise ValueError("proof must be a list of base64 strings")
    try:
        unseen: Iterable[Any] = set(proof).difference(seen)
    except TypeError:  # an unhashable item: the loop refuses it
        unseen = proof
    for p in unseen:
        try:
            _b64_strict(p)
        except (binascii.Error, TypeError, ValueError):
            raise ValueError("proof hashes must be standard base64 strings") from None
        if type(p) is str:
            seen.add(p)
    return seq, entry["event"], proof


def _check_entry(
    entry: Any, position: int, seen: set[str]
) -> Finding | tuple[int, SignedEvent, list[Any]]:
    """Entry ``position``, parsed: a finding, or its seq, event and (checked) proof."""
    try:
        seq, obj, proof = _entry_fields(entry, seen)
    except ValueError as e:
        return Finding("invalid_bundle", f"entry #{position}: {e}")
    try:
        return seq, event_from_json(obj), proof
    except LedgerError as e:
        return Finding("invalid_event", e.message, seq)


def verify_bundle(
    bundle: Mapping[str, Any] | bytes | str,
    log_keys: Verifier | Sequence[Verifier],
    *,
    config: rules.RuleConfig | None = None,
    trusted_checkpoints: Sequence[str] = (),
    witnesses: Sequence[Witness] = (),
    quorum: int = 0,
    chunk_map: ChunkMap | None = None,
    shared: bool = False,
) -> VerificationReport:
    """Verify an audit bundle offline.

    Args:
        bundle: the bundle (parsed, or its JSON bytes/text, parsed strictly).
        log_keys: the trusted log verifier key(s) (C2SP vkeys parsed with ``Verifier.parse``);
            the checkpoint's origin line must be the key's name (we name log keys so).
        config: rule configuration; must match the server's (tolerance).
        witnesses, quorum: when given, at least ``quorum`` of these witnesses must have
            cosigned the checkpoint (C2SP tlog-cosignature).
        trusted_checkpoints: checkpoint notes the auditor saw before (from the log or
            witnesses); one of the same size with another root proves a split view.
        chunk_map: when given, the entries are checked ahead, in chunks, through it (e.g. a
            process pool's ``imap``: the caller owns the processes): their shape, schema,
            canonical form, hash and Ed25519 signature (``check_entries``); the rules then skip
            a signature found valid under the very key they pick. Without it, all of that
            happens here. The report is identical either way; the rule replay itself always
            runs here, in log order, as the checked chunks come in.
        shared: the ``chunk_map``'s workers were forked inside ``shared_entries(entries)``
            with this bundle's very ``entries`` list: tasks then carry positions, not entries.

    Returns:
        the report; never raises for a bad bundle (every problem is a finding).
    """
    report = VerificationReport(lot=None)
    try:
        if isinstance(bundle, Mapping):
            doc = bundle
        else:
            with gc_paused():
                doc = canonical.loads(bundle, max_bytes=None)
    except LedgerError as e:
        report.errors.append(Finding("invalid_bundle", f"not a strict JSON document: {e.message}"))
        return report
    if not isinstance(doc, Mapping) or set(doc) != {"format", "lot", "checkpoint", "entries"}:
        report.errors.append(
            Finding("invalid_bundle", "a bundle has exactly format, lot, checkpoint and entries")
        )
        return report
    report.lot = str(doc["lot"])
    if doc["format"] != BUNDLE_FORMAT:
        report.errors.append(Finding("invalid_bundle", f"unknown format {doc['format']!r}"))
        return report
    verifiers = [log_keys] if isinstance(log_keys, Verifier) else list(log_keys)
    cp = _check_checkpoint(
        doc["checkpoint"], verifiers, trusted_checkpoints, report, witnesses, quorum
    )
    if cp is None or not isinstance(doc["entries"], list):
        if cp is not None:
            report.errors.append(Finding("invalid_bundle", "entries must be a list"))
        return report
    report.checkpoint = cp
    with gc_paused():
        _replay(doc["entries"], cp, report, config or rules.RuleConfig(), chunk_map, shared)
    return report


def _check_checkpoint(
    note: Any,
    verifiers: Sequence[Verifier],
    trusted: Sequence[str],
    report: VerificationReport,
    witnesses: Sequence[Witness] = (),
    quorum: int = 0,
) -> Checkpoint | None:
    if not isinstance(note, str):
        report.errors.append(Finding("bad_checkpoint", "checkpoint must be the signed note text"))
        return None
    cp: Checkpoint | None = None
    problems = []
    for v in verifiers:
        try:
            cp = verify_checkpoint(note, v, origin=v.name, witnesses=witnesses, quorum=quorum)
            break
        except LedgerError as e:
            problems.append(e.message)
    if cp is None:
        report.errors.append(
            Finding(
                "bad_checkpoint",
                "the checkpoint is not signed by a trusted log key ("
                + "; ".join(problems)
                + "): obtain the bundle again, or check that you pass the right --log-key",
            )
        )
        return None
    for other in trusted:
        for v in verifiers:
            try:
                seen = verify_checkpoint(other, v)
            except LedgerError:
                continue
            if seen.origin == cp.origin and seen.size == cp.size and seen.root != cp.root:
                report.errors.append(
                    Finding(
                        "split_view",
                        f"the log signed two different trees of size {cp.size}: this bundle's "
                        "checkpoint contradicts one you trusted before; the log operator is "
                        "presenting a second history — report it and keep both notes as evidence",
                    )
                )
    return cp


def _checked(
    entries: list[Any], chunk_map: ChunkMap | None, shared: bool
) -> Iterator[Finding | tuple[int, SignedEvent, list[Any], bytes | None]]:
    """Every entry in order, parsed: a finding, or its seq, event, proof and the public key
    its signature was found valid under ahead of the replay (None: to be checked there)."""
    if chunk_map is None:
        seen: set[str] = set()
        for position, entry in enumerate(entries):
            parsed = _check_entry(entry, position, seen)
            yield parsed if isinstance(parsed, Finding) else (*parsed, None)
        return
    results: Iterable[list[CheckedEntry]] = chunk_map(check_entries, _tasks(entries, shared))
    position = 0
    for chunk in results:
        for item in chunk:
            if isinstance(item, Finding):
                yield item
            else:
                seq, canonical_bytes, event_hash, sig, pub = item
                entry = entries[position]
                ev = checked_event(entry["event"], canonical_bytes, event_hash, sig)
                yield seq, ev, entry["proof"], pub
            position += 1


def _replay(
    entries: list[Any],
    cp: Checkpoint,
    report: VerificationReport,
    config: rules.RuleConfig,
    chunk_map: ChunkMap | None = None,
    shared: bool = False,
) -> None:
    paths = _PathVerifier(cp.size, cp.root)
    state = _Replay()
    report.state = state
    last_seq = -1
    used_heads: dict[tuple[str, str], int] = {}
    created: set[str] = set()
    accepted: list[tuple[int, SignedEvent]] = []
    leaf_hash = merkle.leaf_hash
    for position, item in enumerate(_checked(entries, chunk_map, shared)):
        if isinstance(item, Finding):
            report.errors.append(item)
            continue
        seq, ev, proof, signed_by = item
        if seq <= last_seq:
            report.errors.append(
                Finding(
                    "entry_order",
                    f"entry #{position} (seq {seq}) is out of log order: "
                    f"it follows seq {last_seq}; entries must be in strictly increasing seq",
                    seq,
                    ev.id,
                )
            )
        last_seq = max(last_seq, seq)
        try:
            paths.verify(seq, leaf_hash(ev.hash_bytes), proof)
        except merkle.ProofError as e:
            report.errors.append(
                Finding(
                    "bad_inclusion_proof",
                    f"event {ev.hash} is not at seq {seq} in the checkpointed tree: {e.message}",
                    seq,
                    ev.id,
                )
            )
        for lot, head in ev.prev.items():
            if (lot, head) in used_heads:
                report.errors.append(
                    Finding(
                        "fork",
                        f"lot {lot} forks: seq {used_heads[(lot, head)]} and seq {seq} "
                        f"both extend head {head[:16]}…",
                        seq,
                        ev.id,
                    )
                )
            used_heads[(lot, head)] = seq
        try:
            if state.is_genesis() and seq != 0:
                raise RuleViolation(
                    "forbidden",
                    f"the first event of the bundle is at seq {seq}, but the log's genesis (the "
                    "operator's party.register) is at seq 0: the bundle lacks its genesis",
                )
            # a signature already found valid under the key the rules will pick is not
            # checked twice; any other (a key the bundle changed since, a bad one) is checked here
            checked = False
            if signed_by is not None:
                key = state.key(ev.kid)
                checked = key is not None and key.pub == signed_by
            state.accept(ev, seq=seq, now=None, config=config, verify_signature=not checked)
        except LedgerError as e:
            report.errors.append(_rule_finding(e, ev, seq, state, created))
            continue
        created.update(ev.lots_created)
        accepted.append((seq, ev))
        report.entries += 1
        if ev.type == "credit.allocate":
            report.warnings.append(
                Finding(
                    "credits_unverifiable",
                    "the account balance behind this allocation is not provable from a bundle; "
                    "the allocation's other rules were checked",
                    seq,
                    ev.id,
                )
            )
    target = report.lot
    if target is not None and target not in created:
        report.errors.append(
            Finding("chain_incomplete", f"the bundle does not contain the creation of lot {target}")
        )
    _compromised_warnings(state, accepted, report)


def _rule_finding(
    e: LedgerError, ev: SignedEvent, seq: int, state: rules.MemoryState, created: set[str]
) -> Finding:
    if e.code == "stale_head":
        for lot, head in ev.prev.items():
            current = state.lot(lot)
            if current is not None and current.head != head:
                return Finding(
                    "chain_gap",
                    f"lot {lot}: this event extends {head[:16]}…, but the last event of the lot in "
                    f"the bundle is {current.head[:16]}… — an entry is missing or was altered",
                    seq,
                    ev.id,
                )
    if e.code == "unknown_lot":
        missing = [lot for lot in ev.prev if lot not in created]
        if missing:
            return Finding(
                "chain_incomplete",
                f"the bundle lacks the creation of lot(s) {', '.join(missing)} that this event "
                f"extends ({e.message})",
                seq,
                ev.id,
            )
    return Finding(e.code, e.message, seq, ev.id)


def _compromised_warnings(
    state: rules.MemoryState,
    accepted: list[tuple[int, SignedEvent]],
    report: VerificationReport,
) -> None:
    """Flag every entry signed after its key's compromise point (spec §4.3)."""
    for seq, ev in accepted:
        key = state.key(ev.kid)
        if key is None or not key.compromised_at(ev.time):
            continue
        if key.revoked_with is not None:
            why = (
                f"signed by key {ev.kid}, which key {key.revoked_with} added after that key's "
                "compromise and was revoked with it"
            )
        else:
            why = (
                f"signed by key {ev.kid}, later revoked as compromised since "
                f"{key.compromised_since} (events dated up to {COMPROMISE_MARGIN_SECONDS} s "
                "before that count)"
            )
        report.warnings.append(
            Finding("key_compromised", f"{why}; treat this event with suspicion", seq, ev.id)
        )


def bundle_digest(bundle: Mapping[str, Any]) -> str:
    """SHA-256 hex of JCS(bundle) — the evidence hash a certificate names (spec §8)."""
    return hashlib.sha256(canonical.jcs(bundle)).hexdigest()
