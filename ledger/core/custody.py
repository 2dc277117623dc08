"""Pure derivations from one event: whose custody history and whose key history it joins.

The server writes these as indexes with each event (custody, party events) and ``fsck``
re-derives them from the log; both use these functions, so they cannot disagree.
"""

from __future__ import annotations

from .events import SignedEvent

__all__ = ["custody_of", "kids_registered", "party_subjects"]


def custody_of(ev: SignedEvent) -> list[tuple[str, str]]:
    """(party, lot) pairs this event adds to custody histories: the creator of a lot, the
    receiver a lot is shipped to, and the party that receives it."""
    if ev.type == "lot.create":
        return [(ev.actor, str(ev.body["lot"]))]
    if ev.type == "lot.transform":
        return [(ev.actor, lot) for lot in ev.lots_created]
    if ev.type == "lot.ship":
        return [(str(ev.body["to"]), str(ev.body["lot"]))]
    if ev.type == "lot.receive":
        return [(ev.actor, str(ev.body["lot"]))]
    return []


def party_subjects(ev: SignedEvent) -> tuple[str, ...]:
    """The parties whose registration/key history this event belongs to."""
    if ev.type == "party.register":
        return (str(ev.body["party"]["id"]),)
    if ev.type in ("key.add", "key.revoke", "party.claim"):
        return (str(ev.body["party"]),)
    return ()


def kids_registered(ev: SignedEvent) -> list[str]:
    """The key ids this event registers (``party.register`` and ``key.add``)."""
    if ev.type == "party.register":
        return [str(k["kid"]) for k in ev.body["keys"]]
    if ev.type == "key.add":
        return [str(ev.body["key"]["kid"])]
    return []
