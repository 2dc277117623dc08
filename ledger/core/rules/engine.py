"""``check_signer`` and ``apply``: the one entry point of the rules, plus party and key events."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .. import keys
from ..events import SignedEvent
from ..values import parse_time
from ._base import Ctx, fail
from .lots import LOT_HANDLERS
from .records import Delta, Key, Party, RuleConfig, StateView

__all__ = ["apply", "check_signer"]

_DEFAULT = RuleConfig()


def _registrable(k: Any, path: str) -> bytes:
    pub = keys.b64url_decode(k["pub"])
    try:
        keys.check_registrable_public_key(pub)
    except keys.KeyFormatError as e:
        raise fail("invalid_event", f"{path}: {e.message}") from None
    return pub


def _genesis_key(ev: SignedEvent, seq: int) -> Key:
    if ev.type != "party.register":
        raise fail(
            "forbidden",
            f"the ledger is empty, so its first event must be the "
            f"operator's self-signed party.register, not a {ev.type}",
        )
    party = ev.body["party"]
    if party["id"] != ev.actor:
        raise fail(
            "forbidden",
            f"the genesis party.register must be self-signed: actor "
            f"{ev.actor!r} registers {party['id']!r}; register the operator itself",
        )
    if "operator" not in party["roles"]:
        raise fail(
            "forbidden", "the genesis party.register must register a party with the operator role"
        )
    for k in ev.body["keys"]:
        if k["kid"] == ev.kid:
            return Key(
                ev.kid,
                ev.actor,
                keys.b64url_decode(k["pub"]),
                seq,
                added_by=ev.kid,
                added_time=ev.time,
            )
    raise fail(
        "unknown_key",
        f"kid {ev.kid} is not among the keys the genesis event registers: sign it with one of them",
    )


def check_signer(view: StateView, ev: SignedEvent, *, seq: int) -> Key:
    """The key that must have signed ``ev``: registered, of the actor, not revoked.

    In an empty ledger (``view.is_genesis()``) the key comes from the event itself, which must
    be the operator's self-signed ``party.register``. A kid registered to a party other than
    the actor is ``unknown_key`` (the actor has no such key).

    Raises:
        RuleViolation: ``unknown_party``, ``unknown_key``, ``key_revoked`` or (genesis)
            ``forbidden``.
    """
    if view.is_genesis():
        return _genesis_key(ev, seq)
    if view.party(ev.actor) is None:
        raise fail(
            "unknown_party",
            f"party {ev.actor!r} is not registered: ask the operator "
            "to register it (party.register) before it signs events",
        )
    key = view.key(ev.kid)
    if key is None or key.party != ev.actor:
        raise fail(
            "unknown_key",
            f"party {ev.actor!r} has no key {ev.kid}: sign with one of "
            "its registered keys, or register this one first (key.add)",
        )
    if key.revoked_seq is not None:
        raise fail(
            "key_revoked",
            f"key {ev.kid} of {ev.actor!r} was revoked at log index "
            f"{key.revoked_seq}: sign with a valid key of {ev.actor!r}",
        )
    return key


def _operator_or(c: Ctx, party: str) -> None:
    if c.ev.actor != party and "operator" not in c.actor().roles:
        raise fail(
            "forbidden",
            f"only party {party!r} itself or the operator may sign a "
            f"{c.ev.type} for {party!r}, not {c.ev.actor!r}",
        )


def _new_key(c: Ctx, k: Any, party: str, path: str) -> None:
    pub = _registrable(k, path)
    if c.view.key(k["kid"]) is not None or k["kid"] in c.delta.keys:
        raise fail(
            "invalid_event",
            f"{path}: key {k['kid']} is already registered; generate a new key pair for this party",
        )
    c.delta.keys[k["kid"]] = Key(
        k["kid"], party, pub, c.seq, added_by=c.ev.kid, added_time=c.ev.time
    )


def _party_register(c: Ctx) -> None:
    if not c.view.is_genesis():
        c.require_role("operator")
    p = c.body["party"]
    if c.view.party(p["id"]) is not None:
        raise fail(
            "invalid_event",
            f"body.party.id: party {p['id']!r} is already registered; "
            "use key.add to give it a new key",
        )
    c.delta.parties[p["id"]] = Party(
        p["id"], p["name"], p["country"], frozenset(p["roles"]), p["feoc"], c.seq
    )
    for i, k in enumerate(c.body["keys"]):
        _new_key(c, k, p["id"], f"body.keys[{i}]")


def _key_add(c: Ctx) -> None:
    party = c.body["party"]
    if c.view.party(party) is None:
        raise fail("unknown_party", f"party {party!r} is not registered: register it first")
    _operator_or(c, party)
    _new_key(c, c.body["key"], party, "body.key")


def _key_revoke(c: Ctx) -> None:
    b = c.body
    if c.view.party(b["party"]) is None:
        raise fail("unknown_party", f"party {b['party']!r} is not registered")
    _operator_or(c, b["party"])
    key = c.view.key(b["kid"])
    if key is None or key.party != b["party"]:
        raise fail(
            "unknown_key",
            f"party {b['party']!r} has no key {b['kid']}: name one of its registered keys",
        )
    since = b.get("compromised_since")
    if key.revoked_seq is not None and not _earlier(since, key.compromised_since):
        raise fail(
            "key_revoked",
            f"key {b['kid']} was already revoked at log index {key.revoked_seq}; nothing to do "
            "(a revoked key may be declared compromised, or compromised earlier, once more)",
        )
    # a key revoked before may still be declared compromised (or compromised earlier): whoever
    # holds a stolen key could otherwise revoke it first to shield the keys it added
    revoked = dataclasses.replace(
        key,
        revoked_seq=c.seq if key.revoked_seq is None else key.revoked_seq,
        compromised_since=since,
    )
    c.delta.keys[key.kid] = revoked
    if since is not None and c.config.revoke_descendants:
        _revoke_descendants(c, revoked)


def _earlier(since: str | None, before: str | None) -> bool:
    """Whether a declared compromise time ``since`` is new or earlier than ``before``."""
    if since is None:
        return False
    return before is None or parse_time(since) < parse_time(before)


def _revoke_descendants(c: Ctx, compromised: Key) -> None:
    """Revoke, with a key revoked as compromised, every key it added after its compromise
    point, and transitively every key those added (spec §4.3): whoever held the key could have
    added them, back-dated or not."""
    todo = [compromised]
    while todo:
        parent = todo.pop()
        for child in c.view.keys_added_by(parent.kid):
            child = c.delta.keys.get(child.kid, child)
            if child.kid == parent.kid or child.revoked_with is not None:
                continue
            if child.added_time is None or not parent.compromised_at(child.added_time):
                continue
            child = dataclasses.replace(
                child,
                revoked_seq=child.revoked_seq if child.revoked_seq is not None else c.seq,
                revoked_with=compromised.kid,
            )
            c.delta.keys[child.kid] = child
            todo.append(child)


def _party_claim(c: Ctx) -> None:
    """The operator confirms lot-id prefixes as a party's (spec §4.4): from then on no other
    party may create a lot under them."""
    c.require_role("operator")
    b = c.body
    party = c.view.party(b["party"])
    if party is None:
        raise fail("unknown_party", f"party {b['party']!r} is not registered: register it first")
    claims = c.view.prefix_claims()
    for i, prefix in enumerate(b["prefixes"]):
        mine = prefix.lower()  # compared without case, as lot ids are against claims
        for other, owner in claims.items():
            theirs = other.lower()
            if owner != party.id and (mine.startswith(theirs) or theirs.startswith(mine)):
                raise fail(
                    "forbidden",
                    f"body.prefixes[{i}]: {prefix!r} overlaps {other!r}, claimed by party "
                    f"{owner!r}: a lot-id prefix belongs to one party; claim a longer or "
                    "different prefix",
                )
    merged = tuple(sorted({*party.prefixes, *b["prefixes"]}))
    c.delta.parties[party.id] = dataclasses.replace(party, prefixes=merged)


_HANDLERS: dict[str, Callable[[Ctx], None]] = {
    "party.register": _party_register,
    "key.add": _key_add,
    "key.revoke": _key_revoke,
    "party.claim": _party_claim,
    **LOT_HANDLERS,
}


def apply(
    view: StateView,
    ev: SignedEvent,
    *,
    seq: int,
    now: datetime | None,
    config: RuleConfig = _DEFAULT,
    verify_signature: bool = True,
) -> Delta:
    """Check ``ev`` against every rule of spec §4 and return what it changes.

    Pure: reads ``view``, never writes it. ``seq`` is the log index the event would get;
    ``now`` the ledger clock (``None`` skips the clock-skew check, e.g. in offline replay).

    Args:
        verify_signature: set False only when the caller already verified ``ev.sig`` under the
            key ``check_signer`` returns.

    Raises:
        RuleViolation: the spec code of the first rule broken, with what to do about it.
    """
    key = check_signer(view, ev, seq=seq)
    if verify_signature and not keys.verify(key.pub, ev.sig, ev.signing_input):
        raise fail(
            "bad_signature",
            f"the signature does not verify under key {ev.kid} of "
            f"{ev.actor!r}: sign 'ltl/v1/event\\n' + JCS(envelope without sig) with it",
        )
    if now is not None:
        when = parse_time(ev.time)
        if when > now + timedelta(seconds=config.max_future_seconds):
            raise fail(
                "bad_time",
                f"time {ev.time} is more than {config.max_future_seconds} s "
                f"ahead of the ledger clock ({now.isoformat()}): fix the signer's clock "
                "and re-sign",
            )
        back = config.max_past_seconds
        if back is not None and when < now - timedelta(seconds=back):
            raise fail(
                "bad_time",
                f"time {ev.time} is more than {back} s before the ledger clock "
                f"({now.isoformat()}): events are signed when they happen, not back-dated; "
                "sign it with the current time",
            )
    c = Ctx(view, ev, seq, config, Delta.empty())
    _HANDLERS[ev.type](c)
    return c.delta
