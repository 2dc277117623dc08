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
    LOT_ID_RE,
    LOT_PREFIX_RE,
    MODELS,
    PARTY_ID_RE,
    PARTY_ROLES,
    SIG_RE,
    SOURCES,
    TEXT_MAX,
    UUID_RE,
    field_error,
    is_mass,
    parse_time,
)

__all__ = ["EPCIS_EVENT_RE", "Envelope", "check_envelope", "touched_lots"]

_FRACTION_RE = re.compile(r"0(?:\.[0-9]{1,6})?|1(?:\.0{1,6})?")
_fail = field_error

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


def _text(v: Any, path: str, *, empty: bool = False, limit: int = TEXT_MAX) -> None:
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


def _text_or_empty(v: Any, path: str) -> None:
    _text(v, path, empty=True)


def _long_text(v: Any, path: str) -> None:
    _text(v, path, limit=LONG_TEXT_MAX)


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
    if not is_mass(v):
        raise _fail(path, f"{v!r} {_MASS_MSG}")


def _mass(v: Any, path: str) -> None:
    _mass_any(v, path)
    if not v.strip("0."):
        raise _fail(path, "must be more than 0 kg here")


def _bool(v: Any, path: str) -> None:
    if type(v) is not bool:
        raise _fail(path, "must be true or false")


_party = _pattern(PARTY_ID_RE, "a party id (lower-case letters, digits and inner '-')")
_lot = _pattern(
    LOT_ID_RE,
    "a lot id (1 to 128 of A-Z a-z 0-9 . _ : / # -, starting with a letter or digit, "
    "with no '.' or '..' path segment)",
)
_prefix = _pattern(LOT_PREFIX_RE, f"a lot-id prefix (^{LOT_PREFIX_RE.pattern}$)")
_sha = _pattern(HASH_RE, "a SHA-256 in lowercase hex (64 characters)")
_kid = _pattern(KID_RE, "a kid (16 lowercase hex characters)")
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
    except keys.KeyFormatError as e:
        raise _fail(path + ".pub", f"{e.message}; send the raw 32-byte key as base64url") from None
    if len(pub) != 32:
        raise _fail(path + ".pub", "must be the raw 32-byte Ed25519 public key in base64url")
    kid = _kid(v["kid"], path + ".kid")
    if kid != keys.kid_of(pub):
        raise _fail(path + ".kid", f"{kid} is not the kid of pub; send {keys.kid_of(pub)}")


_SHA_OPT: dict[str, Check] = {"sha256": _sha}
_SITE = _fields({"country": _country}, {"name": _text})
#: the GS1 CBV 2.0 hash of the EPCIS event a lot event was imported from (spec §4.1)
EPCIS_EVENT_RE = re.compile(r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0")
#: an optional member of every lot.* body: where the event came from, when it was imported
_SOURCE: dict[str, Check] = {
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
_BODIES: dict[str, Check] = {
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


def touched_lots(type: str, body: Mapping[str, Any]) -> tuple[str, ...]:
    """The existing lots an event of this type and body touches: what its ``prev`` must name.

    Assumes a schema-valid body.
    """
    if type == "lot.transform":
        return tuple(str(i["lot"]) for i in body["inputs"])
    if type.startswith(("lot.", "credit.")) and type != "lot.create":
        return (str(body["lot"]),)
    return ()


_ENVELOPE = frozenset({"ltl", "id", "type", "actor", "kid", "time", "prev", "body", "sig"})


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
