"""The schema of the signed envelope (spec §3) and of every event body (spec §4).

Small checkers composed into one per body type. Each walks untrusted decoded JSON and raises an
``invalid_event`` naming the JSON path at fault and what to send instead. Every field is
checked: the envelope has exactly its nine members, each body exactly the members of its type
(unknown members are refused at any depth), and every value its spec format. The choices
made where the original SPEC was silent are normative in docs/spec.md §1–§4.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple

from ..errors import RuleViolation
from . import keys
from .values import (
    CATEGORIES,
    COUNTRIES,
    ELEMENTS,
    EVENT_TYPES,
    FORBIDDEN_TEXT_RE,
    HASH_RE,
    KID_RE,
    LONG_TEXT_MAX,
    LOT_ID_MAX,
    LOT_ID_PATTERN,
    LOT_ID_RE,
    LOT_PREFIX_RE,
    MASS_PATTERN,
    MODELS,
    PARTY_ID_RE,
    PARTY_ROLES,
    SIG_RE,
    SOURCES,
    TEXT_MAX,
    TIME_RE,
    UUID_RE,
    field_error,
    is_mass,
    parse_time,
)

__all__ = [
    "BODIES",
    "EPCIS_EVENT_RE",
    "Checker",
    "Envelope",
    "check_envelope",
    "envelope_schema",
    "touched_lots",
]

_FRACTION_RE = re.compile(r"0(?:\.[0-9]{1,6})?|1(?:\.0{1,6})?")
_fail = field_error

Check = Callable[[Any, str], object]
Schema = dict[str, Any]


class Checker:
    """A check of one decoded JSON value and the JSON Schema (2020-12) fragment saying the same.

    ``check(value, path)`` raises the ``invalid_event`` refusal; ``schema`` says in JSON Schema
    what the check refuses, exactly where JSON Schema can say it. What it cannot say (UTF-8 byte
    limits, sums, uniqueness by a member, a kid derived from its key) is in its ``description``
    and stays the server's rule: the schema is then looser, never stricter, than the check.
    Both are built by the same combinators below, so they cannot drift apart.
    """

    __slots__ = ("check", "schema")

    def __init__(self, check: Check, schema: Schema) -> None:
        self.check = check
        self.schema = schema

    def __call__(self, v: Any, path: str) -> Any:
        return self.check(v, path)


def _anchored(pattern: str) -> str:
    """A regex for JSON Schema's ``pattern`` (ECMA-262, unanchored search) matching a whole string
    exactly as ``fullmatch`` of ``pattern`` does."""
    return f"^(?:{pattern})$"


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


def _object_schema(req: Mapping[str, Schema], opt: Mapping[str, Schema]) -> Schema:
    return {
        "type": "object",
        "required": list(req),
        "properties": {**req, **opt},
        "additionalProperties": False,
    }


def _fields(req: dict[str, Checker], opt: dict[str, Checker] | None = None) -> Checker:
    """An object with exactly these required and optional members, each checked."""
    opt = opt or {}
    checks = {name: c.check for name, c in {**req, **opt}.items()}
    req_keys, opt_keys = frozenset(req), frozenset(opt)

    def check(v: Any, path: str) -> None:
        _obj(v, path, req_keys, opt_keys)
        for name, item in v.items():
            checks[name](item, f"{path}.{name}")

    schema = _object_schema(
        {k: c.schema for k, c in req.items()}, {k: c.schema for k, c in opt.items()}
    )
    return Checker(check, schema)


def _list_of(
    item: Checker, *, nonempty: bool = True, unique: bool = False, key: str | None = None
) -> Checker:
    """A JSON array of checked items; ``unique``: no repeats; ``key``: no two share that member."""
    check_item = item.check

    def check(v: Any, path: str) -> None:
        if type(v) is not list:
            raise _fail(path, "must be a JSON array")
        if nonempty and not v:
            raise _fail(path, "must not be empty")
        for i, x in enumerate(v):
            check_item(x, f"{path}[{i}]")
        if not (unique or key):
            return
        ids = [x if key is None else x[key] for x in v]
        if len(set(ids)) != len(ids):
            raise _fail(path, "lists an entry twice; list each once")

    schema: Schema = {"type": "array", "items": item.schema}
    if nonempty:
        schema["minItems"] = 1
    if unique:
        schema["uniqueItems"] = True
    if key is not None:
        schema["description"] = (
            f"no two items have the same `{key}` (a server rule JSON Schema cannot express)"
        )
    return Checker(check, schema)


def _str(v: Any, path: str) -> str:
    if type(v) is not str:
        raise _fail(path, "must be a JSON string")
    return v


def _re(v: Any, path: str, rx: re.Pattern[str], what: str) -> str:
    if type(v) is not str or rx.fullmatch(v) is None:
        raise _fail(path, f"{v!r} is not {what}")
    return v


def _pattern(rx: re.Pattern[str], what: str, schema: Schema | None = None) -> Checker:
    """A string that ``rx`` matches in full; ``schema`` when ``rx`` is not also ECMA-262."""
    return Checker(
        lambda v, path: _re(v, path, rx, what),
        schema or {"type": "string", "pattern": _anchored(rx.pattern), "description": what},
    )


def _one_of(allowed: Iterable[str], what: str = "") -> Checker:
    options = frozenset(allowed)
    what = what or f"one of {', '.join(allowed)}"

    def check(v: Any, path: str) -> None:
        if type(v) is not str or v not in options:
            raise _fail(path, f"{v!r} is not {what}")

    listed = list(allowed) if isinstance(allowed, tuple | list) else sorted(options)
    return Checker(check, {"type": "string", "enum": listed})


#: JSON Schema ``pattern`` (unanchored) of a forbidden text character, the same class as
#: FORBIDDEN_TEXT_RE written with ``\uXXXX`` escapes (ECMA-262 and Python alike)
FORBIDDEN_TEXT_PATTERN = "".join(
    c if c in "[]-" else f"\\u{ord(c):04x}" for c in FORBIDDEN_TEXT_RE.pattern
)


def _check_text(v: Any, path: str, *, empty: bool = False, limit: int = TEXT_MAX) -> None:
    s = _str(v, path)
    if not s and not empty:
        raise _fail(path, "must not be empty")
    if len(s) > limit // 4 and len(s.encode("utf-8")) > limit:
        raise _fail(path, f"is longer than {limit} bytes in UTF-8; shorten it")
    bad = FORBIDDEN_TEXT_RE.search(s)
    if bad is not None:
        raise _fail(
            path,
            f"holds the control character U+{ord(bad.group()):04X} at position {bad.start()}: "
            "text may not hold C0/C1 controls (tab and newline included) or bidirectional "
            "override/isolate characters; remove it",
        )


def _text_schema(*, empty: bool = False, limit: int = TEXT_MAX) -> Schema:
    schema: Schema = {"type": "string"}
    if not empty:
        schema["minLength"] = 1
    schema["maxLength"] = limit
    schema["not"] = {"pattern": FORBIDDEN_TEXT_PATTERN}
    schema["description"] = (
        f"text of at most {limit} bytes in UTF-8, without C0/C1 controls (tab and newline "
        "included) or bidirectional embedding/override/isolate characters (spec §1.5)"
    )
    schema["$comment"] = (
        f"maxLength counts characters, the server counts UTF-8 bytes: a text of at most {limit} "
        f"characters but more than {limit} bytes passes this schema and is refused"
    )
    return schema


_text = Checker(_check_text, _text_schema())
_text_or_empty = Checker(partial(_check_text, empty=True), _text_schema(empty=True))
_long_text = Checker(partial(_check_text, limit=LONG_TEXT_MAX), _text_schema(limit=LONG_TEXT_MAX))


def _check_time(v: Any, path: str) -> datetime:
    if type(v) is not str:
        raise _fail(path, "must be a time string like 2025-06-02T08:30:00Z")
    try:
        return parse_time(v)
    except RuleViolation as e:
        raise _fail(path, e.message.partition(": ")[2]) from None


_TIME_SCHEMA: Schema = {
    "type": "string",
    "pattern": _anchored(TIME_RE.pattern),
    "description": "an RFC 3339 UTC time like 2025-06-02T08:30:00Z, at most 6 fraction digits, "
    "a real date and time (no leap second: a server rule)",
    "$comment": "no `format: date-time` on purpose: typed clients would parse the value and "
    "write it back in another form (+00:00), which breaks the signature; a signed value is sent "
    "as the exact string that was signed",
}
_time = Checker(_check_time, _TIME_SCHEMA)

_MASS_MSG = (
    'is not a mass: send kilograms as a decimal string like "20000" or "1250.5" '
    "(at most 12 integer digits and 6 decimals)"
)


def _check_mass_any(v: Any, path: str) -> None:
    if not is_mass(v):
        raise _fail(path, f"{v!r} {_MASS_MSG}")


def _check_mass(v: Any, path: str) -> None:
    _check_mass_any(v, path)
    if not v.strip("0."):
        raise _fail(path, "must be more than 0 kg here")


_MASS_SCHEMA: Schema = {
    "type": "string",
    "pattern": _anchored(MASS_PATTERN),
    "description": "kilograms as a decimal string, at most 12 integer digits and 6 decimals",
}
_mass_any = Checker(_check_mass_any, _MASS_SCHEMA)
_mass = Checker(
    _check_mass,
    {
        **_MASS_SCHEMA,
        "not": {"pattern": "^0(?:\\.0+)?$"},
        "description": _MASS_SCHEMA["description"] + ", more than 0",
    },
)


def _check_bool(v: Any, path: str) -> None:
    if type(v) is not bool:
        raise _fail(path, "must be true or false")


_bool = Checker(_check_bool, {"type": "boolean"})
_party = _pattern(PARTY_ID_RE, "a party id (lower-case letters, digits and inner '-')")
_LOT_WHAT = (
    "a lot id (1 to 128 of A-Z a-z 0-9 . _ : / # -, starting with a letter or digit, "
    "with no '.' or '..' path segment)"
)
_lot = _pattern(
    LOT_ID_RE,
    _LOT_WHAT,
    {
        "type": "string",
        "minLength": 1,
        "maxLength": LOT_ID_MAX,
        "pattern": _anchored(LOT_ID_PATTERN),
        "description": _LOT_WHAT,
    },
)
_prefix = _pattern(LOT_PREFIX_RE, f"a lot-id prefix (^{LOT_PREFIX_RE.pattern}$)")
_sha = _pattern(HASH_RE, "a SHA-256 in lowercase hex (64 characters)")
_kid = _pattern(KID_RE, "a kid (16 lowercase hex characters)")
_uuid = _pattern(UUID_RE, "a UUID in lowercase canonical form")
_sig = _pattern(SIG_RE, "the 64-byte Ed25519 signature as unpadded base64url")
_element = _one_of(ELEMENTS, "a chemical element symbol (e.g. Al, Co, Ni, Li)")
_country = _one_of(COUNTRIES, "an ISO 3166-1 alpha-2 country code in upper case (e.g. US)")


def _check_composition(v: Any, path: str) -> None:
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


_composition = Checker(
    _check_composition,
    {
        "type": "object",
        "propertyNames": _element.schema,
        "additionalProperties": {"type": "string", "pattern": _anchored(_FRACTION_RE.pattern)},
        "description": "chemical element -> mass fraction as a decimal string in [0, 1] with at "
        'most 6 decimals, e.g. {"Ni": "0.18"}; the fractions sum to at most 1 (a server rule '
        "JSON Schema cannot express)",
    },
)

#: 32 bytes as unpadded base64url: 43 characters, the last one carrying 4 bits (2 zero bits)
_PUB_PATTERN = "[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]"


def _check_key(v: Any, path: str) -> None:
    _obj(v, path, frozenset({"kid", "alg", "pub"}))
    if v["alg"] != "Ed25519":
        raise _fail(path + ".alg", 'must be "Ed25519"')
    try:
        pub = keys.b64url_decode(_str(v["pub"], path + ".pub"))
    except keys.KeyFormatError as e:
        raise _fail(path + ".pub", f"{e.message}; send the raw 32-byte key as base64url") from None
    if len(pub) != 32:
        raise _fail(path + ".pub", "must be the raw 32-byte Ed25519 public key in base64url")
    kid = _kid(v["kid"], path + ".kid")
    if kid != keys.kid_of(pub):
        raise _fail(path + ".kid", f"{kid} is not the kid of pub; send {keys.kid_of(pub)}")


_key = Checker(
    _check_key,
    {
        **_object_schema(
            {
                "kid": _kid.schema,
                "alg": {"const": "Ed25519"},
                "pub": {
                    "type": "string",
                    "pattern": _anchored(_PUB_PATTERN),
                    "description": "the raw 32-byte Ed25519 public key as unpadded base64url",
                },
            },
            {},
        ),
        "description": "an Ed25519 public key; kid is the first 8 bytes of SHA-256(pub) in hex "
        "(spec §1; a server rule JSON Schema cannot express)",
    },
)


_SHA_OPT: dict[str, Checker] = {"sha256": _sha}
_SITE = _fields({"country": _country}, {"name": _text})
#: the GS1 CBV 2.0 hash of the EPCIS event a lot event was imported from (spec §4.1)
EPCIS_EVENT_RE = re.compile(r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0")
#: an optional member of every lot.* body: where the event came from, when it was imported
_SOURCE: dict[str, Checker] = {
    "epcis_event": _pattern(
        EPCIS_EVENT_RE, "a GS1 CBV 2.0 event hash (ni:///sha-256;<hex>?ver=CBV2.0)"
    )
}
_PARTY = _fields(
    {
        "id": _party,
        "name": _text,
        "country": _country,
        "roles": _list_of(_one_of(PARTY_ROLES), unique=True),
        "feoc": _bool,
    }
)
#: the checker of each event type's body (spec §4); ``.schema`` is its JSON Schema
BODIES: dict[str, Checker] = {
    "party.register": _fields({"party": _PARTY, "keys": _list_of(_key, key="kid")}),
    "key.add": _fields({"party": _party, "key": _key}),
    "key.revoke": _fields(
        {"party": _party, "kid": _kid, "reason": _long_text}, {"compromised_since": _time}
    ),
    "party.claim": _fields(
        {"party": _party, "prefixes": _list_of(_prefix, unique=True)},
    ),
    "lot.create": _fields(
        {
            "lot": _lot,
            "material": _text,
            "mass_kg": _mass,
            "source": _one_of(SOURCES),
            "site": _SITE,
        },
        {"composition": _composition, **_SOURCE},
    ),
    "lot.ship": _fields(
        {"lot": _lot, "to": _party, "mass_kg": _mass},
        {
            "documents": _list_of(_fields({"kind": _text, "ref": _text}, _SHA_OPT), nonempty=False),
            **_SOURCE,
        },
    ),
    "lot.receive": _fields({"lot": _lot, "ship": _sha, "mass_kg": _mass_any}, _SOURCE),
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
        {"model": _one_of(MODELS), **_SOURCE},
    ),
    "lot.assay": _fields(
        {"lot": _lot, "composition": _composition},
        {"report": _fields({"ref": _text}, _SHA_OPT), **_SOURCE},
    ),
    "lot.adjust": _fields({"lot": _lot, "mass_kg": _mass_any, "reason": _long_text}, _SOURCE),
    "lot.attest": _fields(
        {"lot": _lot, "scheme": _text, "statement": _long_text}, {"expires": _time, **_SOURCE}
    ),
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
_BODIES: dict[str, Check] = {name: c.check for name, c in BODIES.items()}


def touched_lots(type: str, body: Mapping[str, Any]) -> tuple[str, ...]:
    """The existing lots an event of this type and body touches: what its ``prev`` must name.

    Assumes a schema-valid body.
    """
    if type == "lot.transform":
        return tuple(str(i["lot"]) for i in body["inputs"])
    if type.startswith(("lot.", "credit.")) and type != "lot.create":
        return (str(body["lot"]),)
    return ()


_ENVELOPE_ORDER = ("ltl", "id", "type", "actor", "kid", "time", "prev", "body", "sig")
_ENVELOPE = frozenset(_ENVELOPE_ORDER)


#: the most lots ``prev`` may name per event type (the lots it touches, spec §3): none for an
#: event on no existing lot, one for an event on one lot; a transform's inputs are unbounded
_PREV_MAX = {
    "party.register": 0,
    "key.add": 0,
    "key.revoke": 0,
    "party.claim": 0,
    "lot.create": 0,
    "lot.transform": None,
}


def envelope_schema(event_type: str, body: Schema) -> Schema:
    """The JSON Schema of a signed envelope (spec §3) of ``event_type`` whose body is ``body``
    (the type's body schema, or a ``$ref`` to it)."""
    limit = _PREV_MAX.get(event_type, 1)
    prev: Schema = {
        "type": "object",
        "propertyNames": _lot.schema,
        "additionalProperties": _sha.schema,
        "description": "lot id -> that lot's current head hash, for exactly the existing lots "
        "the event touches (the body's lot, a transform's inputs; a server rule JSON Schema "
        "cannot express beyond the count)",
    }
    if limit is not None:
        prev["maxProperties"] = limit
    properties: Schema = {
        "ltl": {"type": "integer", "const": 1},
        "id": _uuid.schema,
        "type": {"type": "string", "const": event_type},
        "actor": _party.schema,
        "kid": _kid.schema,
        "time": _TIME_SCHEMA,
        "prev": prev,
        "body": body,
        "sig": {
            **_sig.schema,
            "description": "the Ed25519 signature of the actor's key `kid` over the JCS form of "
            "the envelope without `sig` (spec §3; verified by the server, not by this schema)",
        },
    }
    return {
        "type": "object",
        "title": f"{event_type} event",
        "required": list(_ENVELOPE_ORDER),
        "properties": properties,
        "additionalProperties": False,
    }


class Envelope(NamedTuple):
    """The checked members of a signed envelope."""

    id: str
    type: str
    actor: str
    kid: str
    time: str
    prev: Mapping[str, str]
    body: Mapping[str, Any]
    sig: str


def check_envelope(obj: Any) -> Envelope:
    """Check a decoded JSON event against spec §3 and §4 (everything but its size and bytes).

    Raises:
        RuleViolation: ``invalid_event`` naming the path at fault and what to send.
    """
    _obj(obj, "event", _ENVELOPE)
    if type(obj["ltl"]) is not int or obj["ltl"] != 1:
        raise _fail("ltl", "must be the integer 1")
    ev_id = _re(obj["id"], "id", UUID_RE, "a UUID in lowercase canonical form")
    ev_type = obj["type"]
    check_body = _BODIES.get(ev_type) if type(ev_type) is str else None
    if check_body is None:
        raise _fail(
            "type", f"{ev_type!r} is not an event type; use one of {', '.join(EVENT_TYPES)}"
        )
    actor = _party(obj["actor"], "actor")
    kid = _re(obj["kid"], "kid", KID_RE, "a kid (16 lowercase hex characters)")
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
    if type(sig_text) is not str or SIG_RE.fullmatch(sig_text) is None:
        raise _fail("sig", "must be the 64-byte Ed25519 signature as unpadded base64url")
    return Envelope(ev_id, ev_type, actor, kid, time, prev, body, sig_text)
