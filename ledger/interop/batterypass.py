"""The ``recycledContent`` of the Battery Pass Circularity aspect 1.2.0 (spec §13.3).

Read off the recycled-content report (spec §7.6): the same shares, nothing recomputed. Per
element of the lot's composition that the aspect names (Co, Ni, Li, Pb) and whose share is
known, one entry:

* ``postConsumerShare`` = the element's ``post_consumer`` share × 100;
* ``preConsumerShare`` = its ``pre_consumer_battery`` share × 100: EU 2023/1542 Art. 8 counts
  material "recovered from battery manufacturing waste or post-consumer waste", so the
  ledger's ``pre_consumer_other`` (manufacturing waste of other products) is recycled but in
  neither share, as in the ``eu-2023-1542-art8`` rule pack.

An element with an unknown share, or a lot of unknown composition, gives no entry (the aspect
has no "unknown"); the list may be empty (the aspect's schema sets no minimum).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["ASPECT", "MATERIALS", "recycled_content"]

#: the SAMM property this fragment fills
ASPECT = "urn:samm:io.BatteryPass.Circularity:1.2.0#recycledContent"
#: element symbol -> the aspect's ``recycledMaterial`` value, in the aspect's order
MATERIALS = {"Co": "Cobalt", "Ni": "Nickel", "Li": "Lithium", "Pb": "Lead"}


def _percent(share: str) -> float:
    return float(Decimal(share) * 100)


def recycled_content(report: Mapping[str, Any]) -> dict[str, Any]:
    """``{"recycledContent": [...]}`` of a spec §7.6 report (a Circularity aspect fragment)."""
    elements: Mapping[str, Any] = report.get("elements") or {}
    entries = []
    for symbol, material in MATERIALS.items():
        shares = elements.get(symbol)
        if shares is None:
            continue
        entries.append(
            {
                "recycledMaterial": material,
                "preConsumerShare": _percent(shares["pre_consumer_battery"]),
                "postConsumerShare": _percent(shares["post_consumer"]),
            }
        )
    return {"recycledContent": entries}
