"""What every rule handler shares: the context of one event and the lot-chain checks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ...errors import RuleViolation
from ..events import SignedEvent
from ..values import parse_time
from .records import Delta, Lot, Party, RuleConfig, StateView


def fail(code: str, message: str) -> RuleViolation:
    """A refusal with a spec code; ``message`` says what is wrong and what to do."""
    return RuleViolation(code, message)


@dataclass(slots=True)
class Ctx:
    """One event being applied."""

    view: StateView
    ev: SignedEvent
    seq: int
    config: RuleConfig
    delta: Delta

    @property
    def body(self) -> Any:
        return self.ev.body

    def actor(self) -> Party:
        party = self.view.party(self.ev.actor)
        if party is None:  # pragma: no cover - check_signer ran first
            raise fail("unknown_party", f"party {self.ev.actor!r} is not registered")
        return party

    def require_role(self, *roles: str) -> None:
        """``forbidden`` unless the actor has one of ``roles``."""
        if not self.actor().roles.intersection(roles):
            raise fail(
                "forbidden",
                f"a {self.ev.type} needs the role {' or '.join(roles)}; party {self.ev.actor!r} "
                f"has {', '.join(sorted(self.actor().roles))}: have the operator register the "
                "role or let a party that has it sign",
            )

    def existing(self, lot_id: str, *, custody: bool = True) -> Lot:
        """The touched lot, checked: it exists, ``prev`` names its head, time does not go back.

        A lot the actor neither holds nor has in transit to it is, to the actor, a lot that
        does not exist (spec §4.3, §9.4): every refusal about it is the ``unknown_lot`` of a missing
        lot, byte for byte, so a refusal never tells a party about another company's lot.
        ``custody=False`` (a lab's assay, an auditor's attestation) lets the actor act on such
        a lot when its ``prev`` and time are right.

        Raises:
            RuleViolation: ``unknown_lot``, ``stale_head`` or ``bad_time``.
        """
        lot = self.view.lot(lot_id)
        if lot is None:
            raise self.no_lot(lot_id)
        mine = lot.custodian == self.ev.actor or lot.transit_to == self.ev.actor
        if not mine and (
            custody
            or self.ev.prev.get(lot_id) != lot.head
            or (parse_time(self.ev.time) < parse_time(lot.time))
        ):
            raise self.no_lot(lot_id)
        head = self.ev.prev.get(lot_id)
        if head is None:
            raise fail(
                "stale_head",
                f"prev does not name lot {lot_id!r}, whose head is "
                f"{lot.head}: add it to prev, re-sign and retry",
            )
        if head != lot.head:
            raise fail(
                "stale_head",
                f"lot {lot_id!r} head is {lot.head}, you sent {head}: "
                "re-read the head, re-sign and retry",
            )
        if parse_time(self.ev.time) < parse_time(lot.time):
            raise fail(
                "bad_time",
                f"time {self.ev.time} is before {lot.time}, the time of the "
                f"latest event on lot {lot_id!r}: a lot's events never go back in time",
            )
        return lot

    def no_lot(self, lot_id: str) -> RuleViolation:
        """The refusal for a lot that does not exist, or that the actor may not see."""
        return fail(
            "unknown_lot",
            f"there is no lot {lot_id!r} that {self.ev.actor!r} may act on: check the id; a "
            "lot is made by lot.create or as a lot.transform output, and only its custodian, "
            "or the party it is shipped to, may act on it",
        )

    def custodian(self, lot: Lot) -> None:
        """``not_custodian`` unless the actor holds ``lot``; ``in_transit`` while it travels."""
        if lot.custodian != self.ev.actor:
            hint = ""
            if lot.status == "in_transit" and lot.transit_to == self.ev.actor:
                hint = " It is in transit to you: receive it first (lot.receive)."
            raise fail(
                "not_custodian",
                f"lot {lot.lot!r} is held by {lot.custodian!r}, not "
                f"{self.ev.actor!r}: only the custodian may {self.ev.type} it.{hint}",
            )
        if lot.status == "in_transit":
            raise fail(
                "in_transit",
                f"lot {lot.lot!r} is in transit to {lot.transit_to!r}: "
                f"wait until it is received before a {self.ev.type}",
            )

    def touch(self, lot: Lot, **changes: Any) -> Lot:
        """Record the new state of a touched lot (new head and time) in the delta."""
        new = dataclasses.replace(lot, head=self.ev.hash, time=self.ev.time, **changes)
        self.delta.lots[lot.lot] = new
        return new

    def absent(self, lot_id: str) -> None:
        """``forbidden`` when a lot to be created is under another party's lot-id prefix
        (spec §4.4); ``lot_exists`` when it is already in the ledger."""
        folded = lot_id.lower()  # URN schemes and namespaces ignore case: so do claims
        for prefix, owner in self.view.prefix_claims().items():
            if folded.startswith(prefix.lower()) and owner != self.ev.actor:
                raise fail(
                    "forbidden",
                    f"lot id {lot_id!r} is under the prefix {prefix!r} that party {owner!r} "
                    "owns: create lots under your own prefix",
                )
        if self.view.lot(lot_id) is not None:
            raise fail("lot_exists", f"lot {lot_id!r} already exists: choose a new lot id")
