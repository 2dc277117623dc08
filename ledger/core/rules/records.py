"""The records of the rules' state (parties, keys, lots), the state interface and the delta.

Every record is a frozen dataclass with ``to_dict``/``from_dict`` for storage as JSON text:
Decimals are canonical decimal strings, Fractions ``"p/q"`` strings, bytes base64url. Mapping
fields hold plain dicts that must be treated as read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any, Protocol

from .. import keys
from ..values import CATEGORIES, COMPROMISE_MARGIN_SECONDS, parse_time

__all__ = [
    "Account",
    "Delta",
    "Key",
    "Lot",
    "Party",
    "RuleConfig",
    "Shares",
    "StateView",
    "canonical_decimal",
    "format_decimal",
    "format_fraction",
    "parse_fraction",
]

#: (party, site name, element, category) of a mass-balance credit account.
Account = tuple[str, str, str, str]
#: category -> recycled share (the three spec categories; virgin = 1 - their sum).
Shares = Mapping[str, Fraction]


@dataclass(frozen=True)
class RuleConfig:
    """Tunable rule parameters (spec: tolerance 0.005 by default; clock skew 300 s; events dated
    at most 86400 s before the ledger clock, ``None``: no limit, for importing history)."""

    tolerance: Decimal = Decimal("0.005")
    max_future_seconds: int = 300
    max_past_seconds: int | None = COMPROMISE_MARGIN_SECONDS
    #: revoke the keys a compromised key added (spec §4.6, revision 2); False only to re-index a
    #: log accepted under revision 1, which lacked the rule
    revoke_descendants: bool = True


def format_decimal(d: Decimal) -> str:
    """Canonical fixed-notation decimal string (no exponent, no needless zeros)."""
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def canonical_decimal(d: Decimal) -> Decimal:
    """``d`` with the exponent of its canonical string (``200.000000`` -> ``200``)."""
    return Decimal(format_decimal(d))


def format_fraction(f: Fraction) -> str:
    """``"p/q"`` (always with a denominator, so the form is uniform)."""
    return f"{f.numerator}/{f.denominator}"


@lru_cache(maxsize=65536)
def parse_fraction(s: str) -> Fraction:
    """Inverse of :func:`format_fraction` (also accepts plain integers and decimals).

    Cached: the same few shares ("0/1", "1/1", a blend's result) recur on thousands of lots,
    and parsing a Fraction from text is slow; Fractions are immutable, so sharing is safe.
    """
    return Fraction(s)


def _shares_to(s: Shares) -> dict[str, str]:
    return {k: format_fraction(v) for k, v in s.items()}


def _shares_from(d: Mapping[str, str]) -> dict[str, Fraction]:
    return {k: parse_fraction(v) for k, v in d.items()}


def zero_shares() -> dict[str, Fraction]:
    """All three recycled categories at 0 (100 % virgin)."""
    return dict.fromkeys(CATEGORIES, Fraction(0))


@dataclass(frozen=True, slots=True)
class Party:
    """A registered party, as of its ``party.register`` at log index ``seq``."""

    id: str
    name: str
    country: str
    roles: frozenset[str]
    feoc: bool
    seq: int
    #: the lot-id prefixes the operator confirmed as this party's (``party.claim``)
    prefixes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "country": self.country,
            "roles": sorted(self.roles),
            "feoc": self.feoc,
            "seq": self.seq,
            "prefixes": list(self.prefixes),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Party:
        return cls(
            d["id"],
            d["name"],
            d["country"],
            frozenset(d["roles"]),
            d["feoc"],
            d["seq"],
            tuple(d.get("prefixes", ())),
        )


@dataclass(frozen=True, slots=True)
class Key:
    """A party key: valid from ``added_seq``; invalid from ``revoked_seq`` when set.

    ``added_by`` is the kid that signed the event registering it and ``added_time`` that event's
    time. ``compromised_since`` is the time a revocation declared; ``revoked_with`` names the
    compromised key this key was revoked with (spec §4.3: a key added by a compromised key after
    the compromise point is compromised from its registration on).
    """

    kid: str
    party: str
    pub: bytes
    added_seq: int
    revoked_seq: int | None = None
    compromised_since: str | None = None
    added_by: str | None = None
    added_time: str | None = None
    revoked_with: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "party": self.party,
            "pub": keys.b64url_encode(self.pub),
            "added_seq": self.added_seq,
            "revoked_seq": self.revoked_seq,
            "compromised_since": self.compromised_since,
            "added_by": self.added_by,
            "added_time": self.added_time,
            "revoked_with": self.revoked_with,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Key:
        return cls(
            d["kid"],
            d["party"],
            keys.b64url_decode(d["pub"]),
            d["added_seq"],
            d.get("revoked_seq"),
            d.get("compromised_since"),
            d.get("added_by"),
            d.get("added_time"),
            d.get("revoked_with"),
        )

    def compromised_at(self, time: str) -> bool:
        """Whether an event this key signed at ``time`` counts as signed after its compromise:
        every event of a key revoked with another; for a key revoked as compromised since ``t``,
        every event dated at or after ``t - COMPROMISE_MARGIN_SECONDS`` (a ledger refuses events
        dated more than that before its clock, so every event appended after ``t`` qualifies).
        The margin is a protocol constant, not a server setting, so that the server and every
        offline verifier place the compromise point alike (spec §4.6)."""
        if self.revoked_with is not None:
            return True
        if self.compromised_since is None:
            return False
        since = parse_time(self.compromised_since) - timedelta(seconds=COMPROMISE_MARGIN_SECONDS)
        return parse_time(time) >= since


@dataclass(frozen=True, slots=True, kw_only=True)
class Lot:
    """A lot's current state.

    Attributes:
        status: ``held`` | ``in_transit`` | ``consumed`` (mass 0).
        head: hash of the latest event on the lot; ``time`` that event's time.
        source: the ``lot.create`` source; ``None`` for lots output by a transform.
        site_country, site_name: the site the lot was made at (``""`` when unnamed).
        transit_to, transit_ship: the pending ship's receiver and event hash.
        model: ``create`` | ``controlled_blending`` | ``mass_balance`` (how it was made).
        mass_shares: category -> share of the lot's mass (virgin = 1 - sum).
        element_shares: element -> (category -> share of that element's mass) or ``None`` when
            unknown; ``None`` overall when the composition is unknown.
        allocated: (element, category) -> credit kg allocated to this lot.
        parents: the input lots of the transform that made it.
    """

    lot: str
    material: str
    mass: Decimal
    custodian: str
    status: str
    head: str
    created_seq: int
    time: str
    composition: Mapping[str, Decimal] | None
    source: str | None
    site_country: str
    site_name: str
    transit_to: str | None
    transit_ship: str | None
    model: str
    mass_shares: Shares
    element_shares: Mapping[str, Shares | None] | None
    allocated: Mapping[tuple[str, str], Decimal]
    parents: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        allocated: dict[str, dict[str, str]] = {}
        if self.allocated:
            for (el, cat), kg in sorted(self.allocated.items()):
                allocated.setdefault(el, {})[cat] = format_decimal(kg)
        return {
            "lot": self.lot,
            "material": self.material,
            "mass_kg": format_decimal(self.mass),
            "custodian": self.custodian,
            "status": self.status,
            "head": self.head,
            "created_seq": self.created_seq,
            "time": self.time,
            "composition": None
            if self.composition is None
            else {e: format_decimal(f) for e, f in self.composition.items()},
            "source": self.source,
            "site": {"country": self.site_country, "name": self.site_name},
            "transit_to": self.transit_to,
            "transit_ship": self.transit_ship,
            "model": self.model,
            "mass_shares": _shares_to(self.mass_shares),
            "element_shares": None
            if self.element_shares is None
            else {e: None if s is None else _shares_to(s) for e, s in self.element_shares.items()},
            "allocated": allocated,
            "parents": list(self.parents),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Lot:
        comp = d["composition"]
        es = d["element_shares"]
        return cls(
            lot=d["lot"],
            material=d["material"],
            mass=Decimal(d["mass_kg"]),
            custodian=d["custodian"],
            status=d["status"],
            head=d["head"],
            created_seq=d["created_seq"],
            time=d["time"],
            composition=None if comp is None else {e: Decimal(f) for e, f in comp.items()},
            source=d["source"],
            site_country=d["site"]["country"],
            site_name=d["site"]["name"],
            transit_to=d["transit_to"],
            transit_ship=d["transit_ship"],
            model=d["model"],
            mass_shares=_shares_from(d["mass_shares"]),
            element_shares=None
            if es is None
            else {e: None if s is None else _shares_from(s) for e, s in es.items()},
            allocated={
                (el, cat): Decimal(kg)
                for el, cats in d["allocated"].items()
                for cat, kg in cats.items()
            },
            parents=tuple(d["parents"]),
        )


class StateView(Protocol):
    """What the rules read: the state after every event accepted so far."""

    def party(self, party_id: str) -> Party | None: ...
    def key(self, kid: str) -> Key | None: ...
    def lot(self, lot_id: str) -> Lot | None: ...
    def credit(self, account: Account) -> Decimal: ...
    def keys_added_by(self, kid: str) -> list[Key]: ...
    def prefix_claims(self) -> Mapping[str, str]: ...
    def is_genesis(self) -> bool: ...


@dataclass
class Delta:
    """The new value of every record one event changed (apply it to get the next state)."""

    parties: dict[str, Party]
    keys: dict[str, Key]
    lots: dict[str, Lot]
    credits: dict[Account, Decimal]

    @classmethod
    def empty(cls) -> Delta:
        return cls({}, {}, {}, {})


def format_share(f: Fraction) -> str:
    """A share as a decimal string rounded half-even to exactly 6 places (spec §7)."""
    n = round(f * 1_000_000)  # Fraction.__round__ rounds half to even, exactly
    sign = "-" if n < 0 else ""
    n = abs(n)
    return f"{sign}{n // 1_000_000}.{n % 1_000_000:06d}"


def share_report(shares: Mapping[str, Fraction]) -> dict[str, str]:
    """Category shares plus ``virgin`` (the rest) and ``recycled`` (their sum), formatted."""
    recycled = sum((shares.get(k, Fraction(0)) for k in CATEGORIES), Fraction(0))
    out = {k: format_share(shares.get(k, Fraction(0))) for k in CATEGORIES}
    out["virgin"] = format_share(1 - recycled)
    out["recycled"] = format_share(recycled)
    return out
