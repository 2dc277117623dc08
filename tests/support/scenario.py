"""The running example (the README's Korean–US scenario) as signed events with deterministic
keys (a test helper module).

A US recycler (``bwm``) makes black mass and aluminium scrap; ships the scrap to a Korean
aluminium maker (``alus``) that melts it with primary aluminium into billets and extrudes
enclosures for a US pack maker (``packco``); a lab assays, an auditor attests; ``bwm`` runs a
mass-balance nickel refining step (the spec 294 kg credit example) and allocates the credit.

Keys come from ``Ed25519PrivateKey.from_private_bytes(sha256(name).digest())``; event ids from
the event's ordinal; times are one hour apart from 2025-06-01T08:00:00Z. So the events are
byte-for-byte deterministic.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.cli.scenario import (
    BILLET,
    BLACK_MASS,
    ENCLOSURE,
    KR_SITE,
    NICKEL,
    NISO4,
    PARTIES,
    PRIMARY,
    RESIDUE,
    SCRAP,
    STEPS,
    US_SITE,
)
from ledger.core.events import SignedEvent, sign
from ledger.core.keys import key_object
from ledger.core.rules import MemoryState
from ledger.core.schema import touched_lots
from ledger.core.values import format_time

__all__ = [
    "BILLET",
    "BLACK_MASS",
    "ENCLOSURE",
    "KEYS",
    "KR_SITE",
    "NICKEL",
    "NISO4",
    "PARTIES",
    "PRIMARY",
    "RESIDUE",
    "SCRAP",
    "STEPS",
    "T0",
    "US_SITE",
    "Chain",
    "now_text",
    "private_key",
    "registered_chain",
    "scenario_chain",
    "scenario_events",
    "scrap_body",
]

T0 = datetime.fromisoformat("2025-06-01T08:00:00+00:00")


def scrap_body(lot: str) -> dict[str, Any]:
    """The body of a ``lot.create`` of 1000 kg of post-consumer aluminium scrap at bwm's US
    site: filler lots for tests that need many events."""
    return {
        "lot": lot,
        "material": "aluminium scrap",
        "mass_kg": "1000",
        "composition": {"Al": "0.92", "Si": "0.04"},
        "source": "post_consumer",
        "site": {"country": "US", "name": "Bartlesville"},
    }


def now_text() -> str:
    """Now, as a spec time in whole seconds (the core reads no clock: signers pass the time)."""
    return format_time(datetime.now(UTC).replace(microsecond=0))


def private_key(name: str) -> Ed25519PrivateKey:
    """The deterministic test key of ``name``."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())


KEYS: dict[str, Ed25519PrivateKey] = {p: private_key(p) for p in PARTIES}


class Chain:
    """Builds signed events against a live :class:`MemoryState` (heads filled in from it).

    ``make`` signs without accepting (for negative tests); ``post`` signs and accepts.
    """

    def __init__(self) -> None:
        self.state = MemoryState()
        self.events: list[SignedEvent] = []
        self.clock = T0
        self.n = 0

    def head(self, lot: str) -> str:
        found = self.state.lot(lot)
        assert found is not None, lot
        return found.head

    def make(
        self,
        actor: str,
        type: str,
        body: Mapping[str, Any],
        *,
        prev: Mapping[str, str] | None = None,
        time: str | None = None,
        key: Ed25519PrivateKey | None = None,
        id: str | None = None,
    ) -> SignedEvent:
        if prev is None:  # the current heads (lots that do not exist are left out)
            prev = {
                lot: self.head(lot)
                for lot in touched_lots(type, body)
                if self.state.lot(lot) is not None
            }
        if time is None:
            self.clock += timedelta(hours=1)
            time = format_time(self.clock)
        if id is None:
            self.n += 1
            id = str(
                uuid.UUID(bytes=hashlib.sha256(f"event-{self.n}".encode()).digest()[:16], version=4)
            )
        return sign(
            type=type, actor=actor, key=key or KEYS[actor], body=body, prev=prev, time=time, id=id
        )

    def post(self, actor: str, type: str, body: Mapping[str, Any], **kw: Any) -> SignedEvent:
        ev = self.make(actor, type, body, **kw)
        self.state.accept(ev)
        self.events.append(ev)
        return ev

    def register(self, party: str, *, signer: str = "operator") -> SignedEvent:
        name, country, roles = PARTIES[party]
        body = {
            "party": {"id": party, "name": name, "country": country, "roles": roles, "feoc": False},
            "keys": [key_object(KEYS[party])],
        }
        return self.post(signer, "party.register", body)


def registered_chain() -> Chain:
    """A chain holding the operator genesis and every party of :data:`PARTIES`."""
    chain = Chain()
    for party in PARTIES:
        chain.register(party)
    return chain


def scenario_chain() -> Chain:
    """The whole running example (``ledger.cli.scenario.STEPS``), accepted into its state."""
    c = registered_chain()
    hashes: dict[str, str] = {}
    for step in STEPS:
        hashes[step.name] = c.post(step.actor, step.type, step.resolve(hashes)).hash
    # The operator confirms alus's GS1 company prefix as its lot-id space (spec §4.15).
    c.post("operator", "party.claim", {"party": "alus", "prefixes": ["urn:epc:id:sgtin:8801234."]})
    # Key rotation: bwm adds a second key, then retires it.
    spare = private_key("bwm-2")
    c.post("bwm", "key.add", {"party": "bwm", "key": key_object(spare)})
    c.post(
        "bwm",
        "key.revoke",
        {
            "party": "bwm",
            "kid": key_object(spare)["kid"],
            "reason": "rotated out",
        },
    )
    return c


def scenario_events() -> list[SignedEvent]:
    """The running example: valid signed events in log order (index 0 is the genesis)."""
    return scenario_chain().events
