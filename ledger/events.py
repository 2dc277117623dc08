"""The signed event (SPEC section 3) and the body schema of every event type (SPEC section 4).

``parse_event`` turns untrusted bytes into a :class:`SignedEvent` or raises ``invalid_event``
naming the JSON path at fault and what to send instead. Every field is checked: the envelope has
exactly its nine members, each body exactly the members of its type (unknown members are refused
at any depth), and every value its SPEC format. ``sign``/``sign_event`` build events the same way
partners do, so the library never produces an event its own parser would refuse.

Canonical bytes: a validated event has only ASCII object keys (fixed member names, element
symbols, lot ids), no floats and only the integer ``1``, so the standard library's C encoder with
sorted keys and no ASCII escaping emits exactly RFC 8785 (the argument of ``canonical.jcs``; a
Hypothesis test in tests/unit/test_events.py proves equality with the ``rfc8785`` package). The
envelope is encoded ONCE with its signature; since ``sig``, ``time`` and ``type`` are the last
three members in key order and hold plain ASCII, the signing input is that text with the
``"sig"`` member cut out of the known tail.

Choices (where SPEC is silent):
    * Mass ``"0"`` is allowed only for ``lot.receive`` (total transit loss: the lot becomes
      consumed) and ``lot.adjust`` (written off: consumed). ``lot.create``, ``lot.ship``,
      transform inputs and outputs and ``credit.allocate`` ``kg`` must be > 0.
    * Masses may carry trailing zeros (``"1.50"``, the SPEC regex allows them); state stores the
      canonical form of :func:`format_mass`.
    * Free-text members (names, material, process, reason, scheme, statement, document kind and
      ref) are non-empty strings of at most 4096 characters; ``credit.allocate`` ``site`` may be
      ``""`` (the account of a transform whose site had no name).
    * ``roles`` and ``keys`` are non-empty lists without repeats; ``inputs`` and ``outputs`` are
      non-empty, their lots distinct, and no output is also an input. ``composition`` may be
      ``{}`` (known: none of the listed elements). ``documents`` may be ``[]``.
    * ``country`` must be an officially assigned ISO 3166-1 alpha-2 code, ``element`` one of the
      118 named elements.
    * Times are real UTC instants (no leap second ``:60``); ``key.revoke``'s
      ``compromised_since`` may not be after the event's own ``time``. ``lot.attest`` ``expires``
      is not compared with ``time`` (backdated records of expired attestations are allowed).
    * ``prev`` may only name lots the event touches (its ``lot``, or the transform's inputs);
      anything else is ``invalid_event`` here. A missing head is ``stale_head`` in the rules.
    * ``id`` is any UUID in lowercase canonical text form (any version).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from . import canonical, keys
from .errors import RuleViolation

__all__ = [
    "CATEGORIES",
    "COUNTRIES",
    "ELEMENTS",
    "EVENT_TYPES",
    "LOT_ID_RE",
    "MODELS",
    "PARTY_ID_RE",
    "ROLES",
    "SIGNING_PREFIX",
    "SOURCES",
    "SignedEvent",
    "build_event",
    "event_from_json",
    "format_mass",
    "format_time",
    "parse_event",
    "parse_mass",
    "parse_time",
    "sign",
    "sign_event",
    "stored_event",
    "touched_lots",
    "verify_signature",
]

SIGNING_PREFIX = b"ltl/v1/event\n"
EVENT_TYPES = (
    "party.register",
    "key.add",
    "key.revoke",
    "lot.create",
    "lot.ship",
    "lot.receive",
    "lot.transform",
    "lot.assay",
    "lot.adjust",
    "lot.attest",
    "credit.allocate",
)
ROLES = (
    "operator",
    "producer",
    "recycler",
    "processor",
    "manufacturer",
    "carrier",
    "lab",
    "auditor",
)
CATEGORIES = ("post_consumer", "pre_consumer_battery", "pre_consumer_other")
SOURCES = ("virgin", *CATEGORIES)
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
_TEXT_MAX = 4096

_PARTY_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_LOT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/#-]{0,127}")
#: SPEC §1 identifier forms (use ``fullmatch``)
LOT_ID_RE = _LOT_RE
PARTY_ID_RE = _PARTY_RE
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_KID_RE = re.compile(r"[0-9a-f]{16}")
_HASH_RE = re.compile(r"[0-9a-f]{64}")
_MASS_RE = re.compile(r"(?:0|[1-9][0-9]{0,11})(?:\.[0-9]{1,6})?")
_FRACTION_RE = re.compile(r"0(?:\.[0-9]{1,6})?|1(?:\.0{1,6})?")
_TIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?Z"
)
# 64 bytes -> 86 unpadded base64url characters; the last one carries 2 bits, the other 4 zero.
_SIG_RE = re.compile(r"[A-Za-z0-9_-]{85}[AQgw]")
_MICRO = Decimal("0.000001")
_b64decode = base64.urlsafe_b64decode
_sha256 = hashlib.sha256

# Same settings as canonical.jcs's fast path; see the module docstring for why it is JCS here.
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False, check_circular=False
)


# --- scalar helpers -------------------------------------------------------------------------


def _fail(path: str, message: str) -> RuleViolation:
    return RuleViolation("invalid_event", f"{path}: {message}")


@lru_cache(maxsize=65536)
def parse_time(s: str) -> datetime:
    """Parse a SPEC time (``2025-06-02T08:30:00Z``, up to 6 fraction digits) to an aware UTC
    datetime.

    Raises:
        RuleViolation: ``invalid_event`` when ``s`` is not a SPEC time or not a real instant.
    """
    m = _TIME_RE.fullmatch(s) if isinstance(s, str) else None
    if m is None:
        raise _fail("time", f"{s!r} is not an RFC 3339 UTC time like 2025-06-02T08:30:00Z")
    y, mo, d, h, mi, sec, frac = m.groups()
    try:
        micro = int(frac.ljust(6, "0")) if frac else 0
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec), micro, tzinfo=UTC)
    except ValueError:
        raise _fail("time", f"{s!r} is not a real date and time") from None


def format_time(dt: datetime) -> str:
    """Format an aware datetime as a SPEC time in UTC (fraction only when non-zero)."""
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
    """Parse a SPEC mass string (kilograms) exactly.

    Raises:
        RuleViolation: ``invalid_event`` when ``s`` is not a SPEC mass.
    """
    if not isinstance(s, str) or _MASS_RE.fullmatch(s) is None:
        raise _fail(
            "mass",
            f"{s!r} is not a mass: send kilograms as a decimal string like "
            '"20000" or "1250.5" (at most 12 integer digits and 6 decimals)',
        )
    return Decimal(s)


def format_mass(d: Decimal) -> str:
    """The canonical SPEC mass string of ``d``: fixed notation, no needless zeros.

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


# --- schema (SPEC section 4): small checkers composed into one per body type ----------------

Check = Callable[[Any, str], object]


def _obj(v: Any, path: str, req: frozenset[str], opt: frozenset[str] = frozenset()) -> None:
    if type(v) is not dict:
        raise _fail(path, "must be a JSON object")
    ks = v.keys()
    if ks == req:
        return
    missing = req - ks
    if missing:
        raise _fail(path, f"missing member(s) {', '.join(sorted(missing))}; send them")
    unknown = ks - req - opt
    if unknown:
        names = ", ".join(sorted(map(repr, unknown)))
        allowed = ", ".join(sorted(req | opt))
        raise _fail(
            path,
            f"unknown member(s) {names}: a signed claim may hold only the members "
            f"of its schema ({allowed}); remove them",
        )


def _fields(req: dict[str, Check], opt: dict[str, Check] | None = None) -> Check:
    """An object with exactly these required and optional members, each checked."""
    checks = {**req, **(opt or {})}
    req_keys, opt_keys = frozenset(req), frozenset(opt or {})

    def check(v: Any, path: str) -> None:
        _obj(v, path, req_keys, opt_keys)
        for name, item in v.items():
            checks[name](item, f"{path}.{name}")

    return check


def _list_of(
    item: Check, *, nonempty: bool = True, unique: bool = False, key: str | None = None
) -> Check:
    """A JSON array of checked items; ``unique``: no repeats; ``key``: no two share that member."""

    def check(v: Any, path: str) -> None:
        if type(v) is not list:
            raise _fail(path, "must be a JSON array")
        if nonempty and not v:
            raise _fail(path, "must not be empty")
        for i, x in enumerate(v):
            item(x, f"{path}[{i}]")
        if not (unique or key):
            return
        ids = [x if key is None else x[key] for x in v]
        if len(set(ids)) != len(ids):
            raise _fail(path, "lists an entry twice; list each once")

    return check


def _str(v: Any, path: str) -> str:
    if type(v) is not str:
        raise _fail(path, "must be a JSON string")
    return v


def _re(v: Any, path: str, rx: re.Pattern[str], what: str) -> str:
    if type(v) is not str or rx.fullmatch(v) is None:
        raise _fail(path, f"{v!r} is not {what}")
    return v


def _pattern(rx: re.Pattern[str], what: str) -> Callable[[Any, str], str]:
    return lambda v, path: _re(v, path, rx, what)


def _one_of(allowed: Iterable[str], what: str = "") -> Check:
    options = frozenset(allowed)
    what = what or f"one of {', '.join(allowed)}"

    def check(v: Any, path: str) -> None:
        if type(v) is not str or v not in options:
            raise _fail(path, f"{v!r} is not {what}")

    return check


def _text(v: Any, path: str, *, empty: bool = False) -> None:
    s = _str(v, path)
    if (not s and not empty) or len(s) > _TEXT_MAX:
        raise _fail(path, f"must be a non-empty string of at most {_TEXT_MAX} characters")


def _text_or_empty(v: Any, path: str) -> None:
    _text(v, path, empty=True)


def _time(v: Any, path: str) -> datetime:
    if type(v) is not str:
        raise _fail(path, "must be a time string like 2025-06-02T08:30:00Z")
    try:
        return parse_time(v)
    except RuleViolation as e:
        raise _fail(path, e.message.partition(": ")[2]) from None


_MASS_MSG = (
    'is not a mass: send kilograms as a decimal string like "20000" or "1250.5" '
    "(at most 12 integer digits and 6 decimals)"
)


def _mass_any(v: Any, path: str) -> None:
    if type(v) is not str or _MASS_RE.fullmatch(v) is None:
        raise _fail(path, f"{v!r} {_MASS_MSG}")


def _mass(v: Any, path: str) -> None:
    _mass_any(v, path)
    if not v.strip("0."):
        raise _fail(path, "must be more than 0 kg here")


def _bool(v: Any, path: str) -> None:
    if type(v) is not bool:
        raise _fail(path, "must be true or false")


_party = _pattern(_PARTY_RE, "a party id (lower-case letters, digits and inner '-')")
_lot = _pattern(_LOT_RE, "a lot id (^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,127}$)")
_sha = _pattern(_HASH_RE, "a SHA-256 in lowercase hex (64 characters)")
_kid = _pattern(_KID_RE, "a kid (16 lowercase hex characters)")
_element = _one_of(ELEMENTS, "a chemical element symbol (e.g. Al, Co, Ni, Li)")
_country = _one_of(COUNTRIES, "an ISO 3166-1 alpha-2 country code in upper case (e.g. US)")


def _composition(v: Any, path: str) -> None:
    if type(v) is not dict:
        raise _fail(path, 'must be an object of element -> mass fraction, e.g. {"Ni": "0.18"}')
    total = Decimal(0)
    for el, frac in v.items():
        _element(el, f"{path} key")
        if type(frac) is not str or _FRACTION_RE.fullmatch(frac) is None:
            raise _fail(
                f"{path}.{el}",
                f"{frac!r} is not a fraction: a decimal string in "
                '[0, 1] with at most 6 decimals, e.g. "0.215"',
            )
        total += Decimal(frac)
    if total > 1:
        raise _fail(path, f"fractions sum to {total}, more than 1; correct the composition")


def _key(v: Any, path: str) -> None:
    _obj(v, path, frozenset({"kid", "alg", "pub"}))
    if v["alg"] != "Ed25519":
        raise _fail(path + ".alg", 'must be "Ed25519"')
    try:
        pub = keys.b64url_decode(_str(v["pub"], path + ".pub"))
    except keys.KeyError_ as e:
        raise _fail(path + ".pub", f"{e.message}; send the raw 32-byte key as base64url") from None
    if len(pub) != 32:
        raise _fail(path + ".pub", "must be the raw 32-byte Ed25519 public key in base64url")
    kid = _kid(v["kid"], path + ".kid")
    if kid != keys.kid_of(pub):
        raise _fail(path + ".kid", f"{kid} is not the kid of pub; send {keys.kid_of(pub)}")


_SHA_OPT: dict[str, Check] = {"sha256": _sha}
_SITE = _fields({"country": _country}, {"name": _text})
_PARTY = _fields(
    {
        "id": _party,
        "name": _text,
        "country": _country,
        "roles": _list_of(_one_of(ROLES), unique=True),
        "feoc": _bool,
    }
)
_BODIES: dict[str, Check] = {
    "party.register": _fields({"party": _PARTY, "keys": _list_of(_key, key="kid")}),
    "key.add": _fields({"party": _party, "key": _key}),
    "key.revoke": _fields(
        {"party": _party, "kid": _kid, "reason": _text}, {"compromised_since": _time}
    ),
    "lot.create": _fields(
        {
            "lot": _lot,
            "material": _text,
            "mass_kg": _mass,
            "source": _one_of(SOURCES),
            "site": _SITE,
        },
        {"composition": _composition},
    ),
    "lot.ship": _fields(
        {"lot": _lot, "to": _party, "mass_kg": _mass},
        {"documents": _list_of(_fields({"kind": _text, "ref": _text}, _SHA_OPT), nonempty=False)},
    ),
    "lot.receive": _fields({"lot": _lot, "ship": _sha, "mass_kg": _mass_any}),
    "lot.transform": _fields(
        {
            "process": _text,
            "site": _SITE,
            "inputs": _list_of(_fields({"lot": _lot, "mass_kg": _mass}), key="lot"),
            "outputs": _list_of(
                _fields(
                    {"lot": _lot, "material": _text, "mass_kg": _mass},
                    {"composition": _composition},
                ),
                key="lot",
            ),
        },
        {"model": _one_of(MODELS)},
    ),
    "lot.assay": _fields(
        {"lot": _lot, "composition": _composition}, {"report": _fields({"ref": _text}, _SHA_OPT)}
    ),
    "lot.adjust": _fields({"lot": _lot, "mass_kg": _mass_any, "reason": _text}),
    "lot.attest": _fields({"lot": _lot, "scheme": _text, "statement": _text}, {"expires": _time}),
    "credit.allocate": _fields(
        {
            "lot": _lot,
            "site": _text_or_empty,
            "element": _element,
            "category": _one_of(CATEGORIES),
            "kg": _mass,
        }
    ),
}


def touched_lots(type: str, body: Mapping[str, Any]) -> tuple[str, ...]:
    """The existing lots an event of this type and body touches: what its ``prev`` must name.

    Assumes a schema-valid body.
    """
    if type == "lot.transform":
        return tuple(str(i["lot"]) for i in body["inputs"])
    if type.startswith(("lot.", "credit.")) and type != "lot.create":
        return (str(body["lot"]),)
    return ()


# --- the envelope ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedEvent:
    """A schema-valid signed event (its signature is NOT checked here: see ``rules``).

    ``envelope`` (and ``prev``/``body`` inside it) must be treated as read-only.
    """

    id: str
    type: str
    actor: str
    kid: str
    time: str
    prev: Mapping[str, str]
    body: Mapping[str, Any]
    sig: bytes
    envelope: Mapping[str, Any]
    canonical: bytes
    signing_input: bytes
    hash: str

    def __hash__(self) -> int:  # the fields hold dicts; the event hash identifies the event
        return hash(self.hash)

    @property
    def hash_bytes(self) -> bytes:
        """The 32 raw bytes of the event hash (the Merkle leaf data)."""
        return bytes.fromhex(self.hash)

    @property
    def lots_touched(self) -> tuple[str, ...]:
        """The existing lots this event names in ``prev``."""
        return tuple(self.prev)

    @property
    def lots_created(self) -> tuple[str, ...]:
        """The lots this event creates (``lot.create``'s lot, a transform's outputs)."""
        if self.type == "lot.create":
            return (str(self.body["lot"]),)
        if self.type == "lot.transform":
            return tuple(str(o["lot"]) for o in self.body["outputs"])
        return ()


_ENVELOPE = frozenset({"ltl", "id", "type", "actor", "kid", "time", "prev", "body", "sig"})


def event_from_json(obj: Any) -> SignedEvent:
    """Validate a decoded JSON event against SPEC sections 3 and 4 and wrap it.

    Raises:
        RuleViolation: ``invalid_event`` naming the path at fault and what to send.
    """
    _obj(obj, "event", _ENVELOPE)
    if type(obj["ltl"]) is not int or obj["ltl"] != 1:
        raise _fail("ltl", "must be the integer 1")
    ev_id = _re(obj["id"], "id", _UUID_RE, "a UUID in lowercase canonical form")
    ev_type = obj["type"]
    check_body = _BODIES.get(ev_type) if type(ev_type) is str else None
    if check_body is None:
        raise _fail(
            "type", f"{ev_type!r} is not an event type; use one of {', '.join(EVENT_TYPES)}"
        )
    actor = _party(obj["actor"], "actor")
    kid = _re(obj["kid"], "kid", _KID_RE, "a kid (16 lowercase hex characters)")
    time = _str(obj["time"], "time")
    when = _time(time, "time")
    prev = obj["prev"]
    if type(prev) is not dict:
        raise _fail("prev", "must be an object of lot id -> head hash")
    body = obj["body"]
    check_body(body, "body")
    touched = touched_lots(ev_type, body)
    if ev_type == "lot.transform":
        for i, out in enumerate(body["outputs"]):
            if out["lot"] in touched:
                raise _fail(
                    f"body.outputs[{i}].lot",
                    f"{out['lot']} is already an input; an output needs a new lot id",
                )
    for lot, head in prev.items():
        if lot not in touched:
            raise _fail(
                f"prev[{lot!r}]",
                f"this {ev_type} does not touch lot {lot!r}: prev must "
                "name exactly the existing lots the event touches; remove it",
            )
        _sha(head, f"prev[{lot!r}]")
    since = body.get("compromised_since") if ev_type == "key.revoke" else None
    if since is not None and parse_time(since) > when:
        raise _fail(
            "body.compromised_since",
            "is after the event time; send the time the key "
            "was first exposed, not later than this event",
        )
    sig_text = obj["sig"]
    if type(sig_text) is not str or _SIG_RE.fullmatch(sig_text) is None:
        raise _fail("sig", "must be the 64-byte Ed25519 signature as unpadded base64url")
    try:
        canonical_bytes = _ENCODER.encode(obj).encode("utf-8")
    except UnicodeEncodeError:
        raise _fail("event", "a string holds a lone UTF-16 surrogate; send valid Unicode") from None
    if len(canonical_bytes) > canonical.MAX_EVENT_BYTES:  # SPEC §2, also for decoded events
        raise _fail(
            "event",
            f"is {len(canonical_bytes)} bytes in canonical form, over the "
            f"{canonical.MAX_EVENT_BYTES}-byte limit; shorten it (e.g. fewer or shorter documents)",
        )
    return SignedEvent(
        ev_id,
        ev_type,
        actor,
        kid,
        time,
        prev,
        body,
        _b64decode(sig_text + "=="),
        obj,
        canonical_bytes,
        _signing_input(canonical_bytes, sig_text, time, ev_type),
        _sha256(canonical_bytes).hexdigest(),
    )


def _signing_input(canonical_bytes: bytes, sig_text: str, time: str, ev_type: str) -> bytes:
    """``SIGNING_PREFIX + JCS(envelope without sig)``, cut out of ``JCS(envelope)``.

    The JCS text ends with ``,"sig":"S","time":"T","type":"Y"}`` (ASCII members, sorted), so
    the signing input is that text with the ``sig`` member removed.
    """
    tail = 21 + len(time) + len(ev_type)
    cut = tail + 9 + len(sig_text)
    if canonical_bytes[-cut:-tail] != f',"sig":"{sig_text}"'.encode():  # pragma: no cover
        raise AssertionError("canonical envelope does not end with sig, time, type")
    return SIGNING_PREFIX + canonical_bytes[:-cut] + canonical_bytes[-tail:]


def stored_event(canonical_bytes: bytes, event_hash: str) -> SignedEvent:
    """An event read back from the ledger's own append-only store, NOT re-validated.

    Only for bytes this ledger validated when it accepted them (``fsck`` re-validates and
    re-hashes every stored event, and audit bundles are verified with :func:`event_from_json`):
    bulk reads (reports over thousands of lots) skip the schema walk and the re-encoding.
    """
    obj = json.loads(canonical_bytes)
    sig_text = obj["sig"]
    return SignedEvent(
        obj["id"],
        obj["type"],
        obj["actor"],
        obj["kid"],
        obj["time"],
        obj["prev"],
        obj["body"],
        _b64decode(sig_text + "=="),
        obj,
        canonical_bytes,
        _signing_input(canonical_bytes, sig_text, obj["time"], obj["type"]),
        event_hash,
    )


def parse_event(data: bytes) -> SignedEvent:
    """Parse and validate one signed event from its JSON bytes (strict JSON, 64 KiB limit).

    Raises:
        RuleViolation: ``invalid_event`` for bad JSON, a schema violation or a bad value.
    """
    return event_from_json(canonical.loads(data, walk=False))


# --- building and signing -------------------------------------------------------------------


def build_event(
    *,
    type: str,
    actor: str,
    kid: str,
    body: Mapping[str, Any],
    prev: Mapping[str, str] | None = None,
    time: str | None = None,
    id: str | None = None,
) -> dict[str, Any]:
    """An unsigned envelope; ``time`` defaults to now (UTC, whole seconds), ``id`` to a UUID4."""
    if time is None:
        time = format_time(datetime.now(UTC).replace(microsecond=0))
    return {
        "ltl": 1,
        "id": id if id is not None else str(uuid.uuid4()),
        "type": type,
        "actor": actor,
        "kid": kid,
        "time": time,
        "prev": dict(prev or {}),
        "body": dict(body),
    }


def sign_event(unsigned: Mapping[str, Any], private_key: keys.Ed25519PrivateKey) -> SignedEvent:
    """Sign an unsigned envelope: Ed25519 over ``SIGNING_PREFIX + JCS(envelope)``.

    Raises:
        RuleViolation: ``invalid_event`` when the envelope (or the result) is not a valid event.
    """
    if "sig" in unsigned:
        raise _fail("sig", "the envelope to sign already has a sig; remove it first")
    envelope = dict(unsigned)
    signature = private_key.sign(SIGNING_PREFIX + canonical.jcs(envelope))
    envelope["sig"] = keys.b64url_encode(signature)
    return event_from_json(envelope)


def sign(
    *,
    type: str,
    actor: str,
    key: keys.Ed25519PrivateKey,
    body: Mapping[str, Any],
    prev: Mapping[str, str] | None = None,
    time: str | None = None,
    id: str | None = None,
) -> SignedEvent:
    """Build and sign an event in one step; ``kid`` is computed from ``key``.

    Raises:
        RuleViolation: ``invalid_event`` when the result is not a valid event.
    """
    kid = keys.kid_of(keys.public_raw(key))
    unsigned = build_event(type=type, actor=actor, kid=kid, body=body, prev=prev, time=time, id=id)
    return sign_event(unsigned, key)


def verify_signature(ev: SignedEvent, pub: bytes) -> bool:
    """True when ``ev.sig`` is a valid Ed25519 signature of ``ev.signing_input`` under ``pub``."""
    return keys.verify(pub, ev.sig, ev.signing_input)
