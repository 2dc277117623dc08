"""The GUIDE running example as signed events, with deterministic keys (test helper module).

A US recycler (``bwm``) makes black mass and aluminium scrap; ships the scrap to a Korean
aluminium maker (``alus``) that melts it with primary aluminium into billets and extrudes
enclosures for a US pack maker (``packco``); a lab assays, an auditor attests; ``bwm`` runs a
mass-balance nickel refining step (the SPEC 294 kg credit example) and allocates the credit.

Keys come from ``Ed25519PrivateKey.from_private_bytes(sha256(name).digest())``; event ids from
the event's ordinal; times are one hour apart from 2025-06-01T08:00:00Z. So the events are
byte-for-byte deterministic.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import keys as keylib
from ledger.events import SignedEvent, format_time, sign, touched_lots
from ledger.rules import MemoryState

__all__ = [
    "KEYS",
    "PARTIES",
    "T0",
    "Chain",
    "key_obj",
    "private_key",
    "scenario_chain",
    "scenario_events",
]

T0 = datetime.fromisoformat("2025-06-01T08:00:00+00:00")


def private_key(name: str) -> Ed25519PrivateKey:
    """The deterministic test key of ``name``."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())


def key_obj(key: Ed25519PrivateKey) -> dict[str, str]:
    """The SPEC key object of a private key's public half."""
    pub = keylib.public_raw(key)
    return {"kid": keylib.kid_of(pub), "alg": "Ed25519", "pub": keylib.b64url_encode(pub)}


#: party id -> (name, country, roles)
PARTIES: dict[str, tuple[str, str, list[str]]] = {
    "operator": ("LTL Operator", "US", ["operator"]),
    "bwm": ("BWM Recycling, Bartlesville OK", "US", ["recycler"]),
    "alus": ("ALUS Aluminium, Ulsan", "KR", ["processor", "manufacturer"]),
    "lab": ("Ulsan Materials Lab", "KR", ["lab"]),
    "auditor": ("Chain-of-Custody Audit LLC", "US", ["auditor"]),
    "packco": ("PackCo Battery Packs", "US", ["manufacturer"]),
    "carrier": ("Pacific Carrier Lines", "KR", ["carrier"]),
}
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
            "keys": [key_obj(KEYS[party])],
        }
        return self.post(signer, "party.register", body)


def registered_chain() -> Chain:
    """A chain holding the operator genesis and every party of :data:`PARTIES`."""
    chain = Chain()
    for party in PARTIES:
        chain.register(party)
    return chain


SCRAP = "BWM-AL-2025-0001"
BLACK_MASS = "BWM-BM-2025-0001"
PRIMARY = "ALUS-PRIM-2025-0001"
BILLET = "ALUS-BILLET-0007"
ENCLOSURE = "ALUS-ENC-2025-0042"
NICKEL = "BWM-NI-2025-0001"
NISO4 = "BWM-NISO4-2025-0001"
RESIDUE = "BWM-RES-2025-0001"
US_SITE = {"country": "US", "name": "Bartlesville"}
KR_SITE = {"country": "KR", "name": "Ulsan"}


def scenario_chain() -> Chain:
    """The whole running example, accepted into the chain's state."""
    c = registered_chain()
    c.post(
        "bwm",
        "lot.create",
        {
            "lot": BLACK_MASS,
            "material": "black mass",
            "mass_kg": "10000",
            "composition": {"Co": "0.02", "Ni": "0.03", "Li": "0.035"},
            "source": "post_consumer",
            "site": US_SITE,
        },
    )
    c.post(
        "bwm",
        "lot.create",
        {
            "lot": SCRAP,
            "material": "aluminium scrap",
            "mass_kg": "20000",
            "composition": {"Al": "0.97", "Si": "0.01"},
            "source": "post_consumer",
            "site": US_SITE,
        },
    )
    ship = c.post(
        "bwm",
        "lot.ship",
        {
            "lot": SCRAP,
            "to": "alus",
            "mass_kg": "20000",
            "documents": [
                {
                    "kind": "bill_of_lading",
                    "ref": "BOL-2025-0602",
                    "sha256": hashlib.sha256(b"BOL-2025-0602").hexdigest(),
                }
            ],
        },
    )
    c.post("alus", "lot.receive", {"lot": SCRAP, "ship": ship.hash, "mass_kg": "19850"})
    c.post(
        "lab",
        "lot.assay",
        {
            "lot": SCRAP,
            "composition": {"Al": "0.962", "Si": "0.012", "Fe": "0.008"},
            "report": {
                "ref": "UML-2025-118",
                "sha256": hashlib.sha256(b"UML-2025-118").hexdigest(),
            },
        },
    )
    c.post(
        "alus",
        "lot.create",
        {
            "lot": PRIMARY,
            "material": "primary aluminium ingot",
            "mass_kg": "5000",
            "composition": {"Al": "0.997"},
            "source": "virgin",
            "site": KR_SITE,
        },
    )
    c.post(
        "alus",
        "lot.transform",
        {
            "process": "melt and cast",
            "site": KR_SITE,
            "inputs": [{"lot": SCRAP, "mass_kg": "19850"}, {"lot": PRIMARY, "mass_kg": "5000"}],
            "outputs": [
                {
                    "lot": BILLET,
                    "material": "6063 billet",
                    "mass_kg": "24000",
                    "composition": {"Al": "0.97", "Si": "0.009"},
                }
            ],
        },
    )
    c.post(
        "alus",
        "lot.transform",
        {
            "process": "extrusion",
            "site": KR_SITE,
            "model": "controlled_blending",
            "inputs": [{"lot": BILLET, "mass_kg": "20000"}],
            "outputs": [
                {
                    "lot": ENCLOSURE,
                    "material": "battery pack enclosure",
                    "mass_kg": "19500",
                    "composition": {"Al": "0.97"},
                }
            ],
        },
    )
    c.post("alus", "lot.adjust", {"lot": BILLET, "mass_kg": "3990", "reason": "saw cut loss"})
    ship2 = c.post("alus", "lot.ship", {"lot": ENCLOSURE, "to": "packco", "mass_kg": "19500"})
    c.post("packco", "lot.receive", {"lot": ENCLOSURE, "ship": ship2.hash, "mass_kg": "19500"})
    c.post(
        "auditor",
        "lot.attest",
        {
            "lot": ENCLOSURE,
            "scheme": "iso-22095-chain-of-custody",
            "statement": "custody chain and recycled content verified",
            "expires": "2026-06-01T00:00:00Z",
        },
    )
    # SPEC section 7 example: 300 kg post-consumer Ni + 700 kg virgin Ni -> 980 kg Ni -> 294 kg.
    c.post(
        "bwm",
        "lot.create",
        {
            "lot": NICKEL,
            "material": "nickel briquettes",
            "mass_kg": "700",
            "composition": {"Ni": "1"},
            "source": "virgin",
            "site": US_SITE,
        },
    )
    c.post(
        "bwm",
        "lot.transform",
        {
            "process": "hydrometallurgical refining",
            "site": US_SITE,
            "model": "mass_balance",
            "inputs": [{"lot": BLACK_MASS, "mass_kg": "10000"}, {"lot": NICKEL, "mass_kg": "700"}],
            "outputs": [
                {
                    "lot": NISO4,
                    "material": "nickel sulfate",
                    "mass_kg": "4900",
                    "composition": {"Ni": "0.2"},
                },
                {
                    "lot": RESIDUE,
                    "material": "cobalt-lithium concentrate",
                    "mass_kg": "5000",
                    "composition": {"Co": "0.04", "Li": "0.07"},
                },
            ],
        },
    )
    c.post(
        "bwm",
        "credit.allocate",
        {
            "lot": NISO4,
            "site": "Bartlesville",
            "element": "Ni",
            "category": "post_consumer",
            "kg": "294",
        },
    )
    # Key rotation: bwm adds a second key, then retires it.
    spare = private_key("bwm-2")
    c.post("bwm", "key.add", {"party": "bwm", "key": key_obj(spare)})
    c.post(
        "bwm",
        "key.revoke",
        {
            "party": "bwm",
            "kid": key_obj(spare)["kid"],
            "reason": "rotated out",
        },
    )
    return c


def scenario_events() -> list[SignedEvent]:
    """The running example: valid signed events in log order (index 0 is the genesis)."""
    return scenario_chain().events
