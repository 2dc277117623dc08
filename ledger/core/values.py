"""spec §1 scalar values and vocabularies: identifiers, countries, elements, masses, times.

Every check here is exact: masses are ``Decimal`` parsed from strings (never floats), times are
real UTC instants. :func:`field_error` is the one way the format checks refuse a value: an
``invalid_event`` naming the JSON path at fault and what to send instead.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Literal, get_args

from ..errors import RuleViolation

__all__ = [
    "CATEGORIES",
    "COMPROMISE_MARGIN_SECONDS",
    "COUNTRIES",
    "ELEMENTS",
    "EVENT_TYPES",
    "FORBIDDEN_TEXT_RE",
    "HASH_RE",
    "KID_RE",
    "LONG_TEXT_MAX",
    "LOT_ID_MAX",
    "LOT_ID_PATTERN",
    "LOT_ID_RE",
    "LOT_PREFIX_RE",
    "LOT_STATUSES",
    "MASS_PATTERN",
    "MODELS",
    "PARTY_ID_RE",
    "PARTY_ROLES",
    "SIG_RE",
    "SOURCES",
    "TEXT_MAX",
    "TIME_RE",
    "TOKEN_ROLES",
    "UUID_RE",
    "LotStatus",
    "TokenRole",
    "field_error",
    "format_mass",
    "format_time",
    "is_mass",
    "parse_mass",
    "parse_time",
]

EVENT_TYPES = (
    "party.register",
    "key.add",
    "key.revoke",
    "party.claim",
    "lot.create",
    "lot.ship",
    "lot.receive",
    "lot.transform",
    "lot.assay",
    "lot.adjust",
    "lot.attest",
    "credit.allocate",
)
#: The roles a party is registered with (spec §4); API token roles are another thing
#: (:data:`TOKEN_ROLES`).
PARTY_ROLES = (
    "operator",
    "producer",
    "recycler",
    "processor",
    "manufacturer",
    "carrier",
    "lab",
    "auditor",
)
#: What an API token may do (spec §9): a role of the token, not of the party.
TokenRole = Literal["partner", "auditor", "admin"]
TOKEN_ROLES: tuple[TokenRole, ...] = get_args(TokenRole)
#: A lot's status (spec §9 lot objects).
LotStatus = Literal["held", "in_transit", "consumed"]
LOT_STATUSES: tuple[LotStatus, ...] = get_args(LotStatus)
CATEGORIES = ("post_consumer", "pre_consumer_battery", "pre_consumer_other")
SOURCES = ("virgin", *CATEGORIES)
#: The recycled-content models of a transform (spec §7).
MODELS = ("controlled_blending", "mass_balance")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ELEMENTS = _words(
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se "
    "Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy "
    "Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf "
    "Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"
)
COUNTRIES = _words(
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR "
    "BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ "
    "EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW "
    "GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY "
    "KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV "
    "MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY "
    "QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG "
    "TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM "
    "ZW"
)
#: How far before a declared compromise a key's events count as compromised (spec §4.6), and the
#: most a ledger's back-dating window may be (spec §3.8): a protocol constant, 24 h.
COMPROMISE_MARGIN_SECONDS = 86400
#: Longest short text (names, material, process, site, document kind/ref, scheme), in UTF-8 bytes.
TEXT_MAX = 1024
#: Longest long text (a revocation's or adjustment's reason, an attestation's statement), in bytes.
LONG_TEXT_MAX = 4096
#: Characters no text may hold (spec §1.5): C0 and C1 controls, DEL, and the bidirectional
#: embedding, override and isolate controls that make a text display differently from its bytes.
FORBIDDEN_TEXT_RE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

#: spec §1 identifier forms (use ``fullmatch``).
PARTY_ID_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
#: a lot id's characters and segments, without its length (1 to 128): no ``.`` or ``..`` path
#: segment, since URL path normalisation would make ``A/../B`` name lot ``B``. No look-around, so
#: JSON Schema and pydantic (Rust regex) take it as it is, with ``maxLength`` 128.
LOT_ID_PATTERN = (
    r"[A-Za-z0-9][A-Za-z0-9._:#-]*"
    r"(?:/(?:[A-Za-z0-9_:#-][A-Za-z0-9._:#-]*|\.[A-Za-z0-9_:#-][A-Za-z0-9._:#-]*"
    r"|\.\.[A-Za-z0-9._:#-]+)?)*"
)
LOT_ID_MAX = 128
#: a whole lot id (use ``fullmatch``)
LOT_ID_RE = re.compile(rf"(?=[^\n]{{1,{LOT_ID_MAX}}}\Z)(?:{LOT_ID_PATTERN})")
#: a lot-id prefix a party claims (spec §4.4): the characters of a lot id, 1 to 128 of them
LOT_PREFIX_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/#-]{0,127}")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
KID_RE = re.compile(r"[0-9a-f]{16}")
HASH_RE = re.compile(r"[0-9a-f]{64}")
#: an Ed25519 signature as unpadded base64url: 64 bytes -> 86 characters, the last one carrying 2
#: bits (the other 4 zero)
SIG_RE = re.compile(r"[A-Za-z0-9_-]{85}[AQgw]")
#: a mass in kilograms (spec §1): a decimal string, at most 12 integer digits and 6 decimals
MASS_PATTERN = r"(?:0|[1-9][0-9]{0,11})(?:\.[0-9]{1,6})?"
_MASS_RE = re.compile(MASS_PATTERN)
TIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?Z"
)
_MICRO = Decimal("0.000001")


def field_error(path: str, message: str) -> RuleViolation:
    """An ``invalid_event`` refusal of the value at JSON ``path``; ``message`` says what to send."""
    return RuleViolation("invalid_event", f"{path}: {message}")


def is_mass(text: object) -> bool:
    """Whether ``text`` is a spec mass string (zero included)."""
    return isinstance(text, str) and _MASS_RE.fullmatch(text) is not None


@lru_cache(maxsize=65536)
def parse_time(s: str) -> datetime:
    """Parse a spec time (``2025-06-02T08:30:00Z``, up to 6 fraction digits) to an aware UTC
    datetime.

    Raises:
        RuleViolation: ``invalid_event`` when ``s`` is not a spec time or not a real instant.
    """
    m = TIME_RE.fullmatch(s) if isinstance(s, str) else None
    if m is None:
        raise field_error("time", f"{s!r} is not an RFC 3339 UTC time like 2025-06-02T08:30:00Z")
    y, mo, d, h, mi, sec, frac = m.groups()
    try:
        micro = int(frac.ljust(6, "0")) if frac else 0
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec), micro, tzinfo=UTC)
    except ValueError:
        raise field_error("time", f"{s!r} is not a real date and time") from None


def format_time(dt: datetime) -> str:
    """Format an aware datetime as a spec time in UTC (fraction only when non-zero)."""
    if dt.tzinfo is None:
        raise ValueError("format_time needs an aware datetime")
    dt = dt.astimezone(UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.year < 1000:
        text = f"{dt.year:04d}" + text[text.index("-") :]
    if dt.microsecond:
        text += "." + f"{dt.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_mass(s: str) -> Decimal:
    """Parse a spec mass string (kilograms) exactly.

    Raises:
        RuleViolation: ``invalid_event`` when ``s`` is not a spec mass.
    """
    if not isinstance(s, str) or _MASS_RE.fullmatch(s) is None:
        raise field_error(
            "mass",
            f"{s!r} is not a mass: send kilograms as a decimal string like "
            '"20000" or "1250.5" (at most 12 integer digits and 6 decimals)',
        )
    return Decimal(s)


def format_mass(d: Decimal) -> str:
    """The canonical spec mass string of ``d``: fixed notation, no needless zeros.

    Raises:
        ValueError: ``d`` is negative, not finite, has more than 6 decimals or 12 integer digits.
    """
    if not d.is_finite() or d < 0:
        raise ValueError(f"{d} is not a mass")
    q = d.quantize(_MICRO)
    if q != d:
        raise ValueError(f"{d} has more than 6 decimals")
    text = format(abs(q), "f").rstrip("0").rstrip(".")
    if len(text.partition(".")[0]) > 12:
        raise ValueError(f"{d} has more than 12 integer digits")
    return text
