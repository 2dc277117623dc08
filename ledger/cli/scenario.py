"""The Korean–US running example (GUIDE.md) as data: parties and the steps of the story.

A US recycler (``bwm``, Bartlesville, OK) makes black mass and aluminium scrap from end-of-life
packs; ships the scrap to a Korean aluminium maker (``alus``, Ulsan) that receives it with a
transit loss, has it assayed, melts it with primary aluminium into billets and extrudes battery
pack enclosures for a US pack maker (``packco``); an auditor attests. ``bwm`` also refines the
black mass with virgin nickel under the mass-balance model (spec §7's 294 kg credit example) and
allocates the credit to its nickel sulfate. Used by ``ledger demo`` and by the tests.

A step's body may be a function of the hashes of the steps before it (a receive names its ship).
Drivers sign each step with the actor's key and fill ``prev`` with the current heads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BILLET",
    "BLACK_MASS",
    "ENCLOSURE",
    "KR_SITE",
    "NICKEL",
    "NISO4",
    "PARTIES",
    "PRIMARY",
    "RESIDUE",
    "SCRAP",
    "STEPS",
    "US_SITE",
    "Step",
]

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

Body = Mapping[str, Any] | Callable[[Mapping[str, str]], Mapping[str, Any]]


@dataclass(frozen=True)
class Step:
    """One event of the story: ``name`` lets later steps refer to its hash."""

    name: str
    actor: str
    type: str
    body: Body
    say: str

    def resolve(self, hashes: Mapping[str, str]) -> Mapping[str, Any]:
        """The body, given the hashes of the earlier steps by name."""
        return self.body(hashes) if callable(self.body) else self.body


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


STEPS: tuple[Step, ...] = (
    Step(
        "black-mass",
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
        "bwm shreds end-of-life packs into 10 t of black mass (Co/Ni/Li)",
    ),
    Step(
        "scrap",
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
        "bwm recovers 20 t of post-consumer aluminium scrap from the pack housings",
    ),
    Step(
        "ship-scrap",
        "bwm",
        "lot.ship",
        {
            "lot": SCRAP,
            "to": "alus",
            "mass_kg": "20000",
            "documents": [
                {"kind": "bill_of_lading", "ref": "BOL-2025-0602", "sha256": _sha("BOL-2025-0602")}
            ],
        },
        "bwm ships the scrap from Oklahoma to alus in Ulsan",
    ),
    Step(
        "receive-scrap",
        "alus",
        "lot.receive",
        lambda h: {
            "lot": SCRAP,
            "ship": h["ship-scrap"],
            "mass_kg": "19850",
        },
        "alus receives 19,850 kg (150 kg transit loss)",
    ),
    Step(
        "assay-scrap",
        "lab",
        "lot.assay",
        {
            "lot": SCRAP,
            "composition": {"Al": "0.962", "Si": "0.012", "Fe": "0.008"},
            "report": {"ref": "UML-2025-118", "sha256": _sha("UML-2025-118")},
        },
        "the Ulsan lab assays the scrap: 96.2 % Al",
    ),
    Step(
        "primary",
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
        "alus books 5 t of primary aluminium ingot",
    ),
    Step(
        "melt",
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
        "alus melts scrap and primary aluminium into 24 t of 6063 billets",
    ),
    Step(
        "extrude",
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
        "alus extrudes 19.5 t of battery-pack enclosures",
    ),
    Step(
        "saw-loss",
        "alus",
        "lot.adjust",
        {
            "lot": BILLET,
            "mass_kg": "3990",
            "reason": "saw cut loss",
        },
        "alus writes off the saw-cut loss on the remaining billet",
    ),
    Step(
        "ship-enclosures",
        "alus",
        "lot.ship",
        {
            "lot": ENCLOSURE,
            "to": "packco",
            "mass_kg": "19500",
        },
        "alus ships the enclosures to packco in the US",
    ),
    Step(
        "receive-enclosures",
        "packco",
        "lot.receive",
        lambda h: {
            "lot": ENCLOSURE,
            "ship": h["ship-enclosures"],
            "mass_kg": "19500",
        },
        "packco receives the enclosures",
    ),
    Step(
        "attest",
        "auditor",
        "lot.attest",
        {
            "lot": ENCLOSURE,
            "scheme": "iso-22095-chain-of-custody",
            "statement": "custody chain and recycled content verified",
            "expires": "2026-06-01T00:00:00Z",
        },
        "the auditor attests the enclosure lot's chain of custody",
    ),
    Step(
        "nickel",
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
        "bwm buys 700 kg of virgin nickel briquettes",
    ),
    Step(
        "refine",
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
        "bwm refines black mass with virgin nickel (mass balance): 294 kg of Ni credits",
    ),
    Step(
        "allocate",
        "bwm",
        "credit.allocate",
        {
            "lot": NISO4,
            "site": "Bartlesville",
            "element": "Ni",
            "category": "post_consumer",
            "kg": "294",
        },
        "bwm allocates the 294 kg post-consumer Ni credit to its nickel sulfate",
    ),
)
