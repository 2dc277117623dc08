"""The signed envelope and body schemas (spec §1–§4): round trips, canonical bytes equal to
the ``rfc8785`` package, named negative cases for every strict rule, scalar helpers."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import keys
from ledger.core.events import (
    SIGNING_PREFIX,
    SignedEvent,
    build_event,
    event_from_json,
    parse_event,
    sign,
    sign_event,
    verify_signature,
)
from ledger.core.keys import key_object
from ledger.core.schema import touched_lots
from ledger.core.values import (
    COUNTRIES,
    ELEMENTS,
    EVENT_TYPES,
    FORBIDDEN_TEXT_RE,
    format_mass,
    format_time,
    parse_mass,
    parse_time,
)
from ledger.errors import RuleViolation
from tests.support.scenario import KEYS, now_text, private_key, scenario_events

EVENTS = scenario_events()
BY_TYPE = {ev.type: ev for ev in EVENTS}
H = "ab" * 32


def _env(type_: str) -> dict[str, Any]:
    """A deep copy of the scenario's (last) envelope of this type."""
    return copy.deepcopy(dict(BY_TYPE[type_].envelope))


def _invalid(obj: Any) -> RuleViolation:
    with pytest.raises(RuleViolation) as info:
        event_from_json(obj)
    assert info.value.code == "invalid_event"
    return info.value


# --- round trips --------------------------------------------------------------------------------


def test_scenario_covers_every_event_type() -> None:
    assert set(BY_TYPE) == set(EVENT_TYPES)


@pytest.mark.parametrize("ev", EVENTS, ids=[f"{i}-{e.type}" for i, e in enumerate(EVENTS)])
def test_round_trip_and_canonical_bytes(ev: SignedEvent) -> None:
    again = parse_event(ev.canonical)
    assert again == ev
    env = dict(ev.envelope)
    assert ev.canonical == rfc8785.dumps(env)
    unsigned = {k: v for k, v in env.items() if k != "sig"}
    assert ev.signing_input == SIGNING_PREFIX + rfc8785.dumps(unsigned)
    assert ev.hash == hashlib.sha256(ev.canonical).hexdigest()
    assert ev.hash_bytes == hashlib.sha256(ev.canonical).digest()
    assert verify_signature(ev, keys.public_raw(KEYS[ev.actor]))
    assert not verify_signature(
        ev, keys.public_raw(KEYS["operator" if ev.actor != "operator" else "bwm"])
    )


def test_non_canonical_input_gives_the_same_event() -> None:
    ev = BY_TYPE["lot.transform"]
    pretty = json.dumps(dict(reversed(list(ev.envelope.items()))), indent=2).encode()
    again = parse_event(pretty)
    assert again.canonical == ev.canonical and again.hash == ev.hash


def test_lots_touched_and_created() -> None:
    t = BY_TYPE["lot.transform"]
    assert t.lots_touched == tuple(i["lot"] for i in t.body["inputs"])
    assert t.lots_created == tuple(o["lot"] for o in t.body["outputs"])
    c = BY_TYPE["lot.create"]
    assert (c.lots_touched, c.lots_created) == ((), (c.body["lot"],))
    s = BY_TYPE["lot.ship"]
    assert (s.lots_touched, s.lots_created) == ((s.body["lot"],), ())
    assert touched_lots("party.register", BY_TYPE["party.register"].body) == ()
    assert touched_lots("lot.ship", s.body) == (s.body["lot"],)


def test_sign_builds_a_verifiable_event() -> None:
    key = private_key("someone")
    ev = sign(
        type="lot.adjust",
        actor="bwm",
        key=key,
        prev={"L1": H},
        body={"lot": "L1", "mass_kg": "0", "reason": "written off"},
        time=now_text(),
    )
    assert ev.kid == keys.kid_of(keys.public_raw(key))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ev.time)
    assert re.fullmatch(r"[0-9a-f-]{36}", ev.id) and ev.id[14] == "4"
    assert verify_signature(ev, keys.public_raw(key))
    tampered = dict(ev.envelope, time="2020-01-01T00:00:00Z")
    assert not verify_signature(event_from_json(tampered), keys.public_raw(key))


def test_sign_event_refuses_a_signed_envelope() -> None:
    with pytest.raises(RuleViolation, match="already has a sig"):
        sign_event(dict(BY_TYPE["lot.ship"].envelope), KEYS["bwm"])


def test_build_event_defaults() -> None:
    env = build_event(
        type="lot.attest",
        actor="auditor",
        kid="0" * 16,
        body={"lot": "L", "scheme": "s", "statement": "ok"},
        time=now_text(),
    )
    assert env["ltl"] == 1 and env["prev"] == {} and "sig" not in env
    assert abs(parse_time(env["time"]) - datetime.now(UTC)) < timedelta(seconds=5)


# --- Hypothesis: the spliced fast canonical form equals RFC 8785 ----------------------------------

# any text an event may hold (spec §1.5: no surrogates, controls or bidi overrides); the
# canonical escapes of control characters are tested on the JCS vectors
_text = st.text(min_size=1, max_size=40).filter(
    lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s) and not FORBIDDEN_TEXT_RE.search(s)
)
_lot_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:/#-]{0,20}\Z")
_masses = st.from_regex(r"\A[1-9][0-9]{0,11}(\.[0-9]{1,6})?\Z")
_fractions = st.decimals(min_value=0, max_value=Decimal("0.2"), places=6).map(str)
_compositions = st.dictionaries(st.sampled_from(sorted(ELEMENTS)), _fractions, max_size=5)


@settings(max_examples=75, deadline=None)
@given(
    lot=_lot_ids,
    material=_text,
    mass=_masses,
    comp=_compositions,
    name=_text,
    statement=_text,
    lots=st.lists(_lot_ids, min_size=1, max_size=3, unique=True),
)
def test_fast_canonical_form_equals_rfc8785(
    lot: str,
    material: str,
    mass: str,
    comp: dict[str, str],
    name: str,
    statement: str,
    lots: list[str],
) -> None:
    bodies = [
        (
            "lot.create",
            {
                "lot": lot,
                "material": material,
                "mass_kg": mass,
                "composition": comp,
                "source": "virgin",
                "site": {"country": "KR", "name": name},
            },
            {},
        ),
        ("lot.attest", {"lot": lot, "scheme": name, "statement": statement}, {lot: H}),
        (
            "lot.transform",
            {
                "process": name,
                "site": {"country": "US"},
                "inputs": [{"lot": x, "mass_kg": mass} for x in lots],
                "outputs": [
                    {
                        "lot": "OUT-" + lot,
                        "material": material,
                        "mass_kg": mass,
                        "composition": comp,
                    }
                ],
            },
            dict.fromkeys(lots, H),
        ),
    ]
    for type_, body, prev in bodies:
        if type_ == "lot.transform" and "OUT-" + lot in lots:
            continue
        ev = sign(
            type=type_,
            actor="bwm",
            key=KEYS["bwm"],
            body=body,
            prev=prev,
            time="2025-06-01T08:00:00.5Z",
            id="00000000-0000-4000-8000-000000000000",
        )
        assert ev.canonical == rfc8785.dumps(dict(ev.envelope))
        unsigned = {k: v for k, v in ev.envelope.items() if k != "sig"}
        assert ev.signing_input == SIGNING_PREFIX + rfc8785.dumps(unsigned)
        assert parse_event(ev.canonical) == ev


# --- strict envelope ----------------------------------------------------------------------------


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(env: dict[str, Any]) -> None:
        target = env
        for p in path[:-1]:
            target = target[p]
        target[path[-1]] = value

    return edit


def _drop(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def edit(env: dict[str, Any]) -> None:
        target = env
        for p in path[:-1]:
            target = target[p]
        del target[path[-1]]

    return edit


ENVELOPE_CASES: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    ("unknown-envelope-field", "lot.ship", _set(("extra",), 1), "unknown member"),
    ("missing-sig", "lot.ship", _drop(("sig",)), "missing member"),
    ("missing-prev", "lot.ship", _drop(("prev",)), "missing member"),
    ("ltl-2", "lot.ship", _set(("ltl",), 2), "ltl"),
    ("ltl-true", "lot.ship", _set(("ltl",), True), "ltl"),
    ("ltl-string", "lot.ship", _set(("ltl",), "1"), "ltl"),
    ("id-uppercase", "lot.ship", _set(("id",), "0B9A6F8E-6A53-4A7E-9F2E-6D1C2B3A4F50"), "id"),
    ("id-not-uuid", "lot.ship", _set(("id",), "event-1"), "id"),
    ("type-unknown", "lot.ship", _set(("type",), "lot.teleport"), "type"),
    ("type-not-string", "lot.ship", _set(("type",), ["lot.ship"]), "type"),
    ("actor-uppercase", "lot.ship", _set(("actor",), "BWM"), "actor"),
    ("actor-trailing-dash", "lot.ship", _set(("actor",), "bwm-"), "actor"),
    ("kid-short", "lot.ship", _set(("kid",), "abc"), "kid"),
    ("kid-uppercase", "lot.ship", _set(("kid",), "ABCDEF0123456789"), "kid"),
    ("time-offset", "lot.ship", _set(("time",), "2025-06-02T08:30:00+00:00"), "time"),
    ("time-7-digit-fraction", "lot.ship", _set(("time",), "2025-06-02T08:30:00.1234567Z"), "time"),
    ("time-not-a-date", "lot.ship", _set(("time",), "2025-02-30T08:30:00Z"), "real date"),
    ("time-leap-second", "lot.ship", _set(("time",), "2025-06-30T23:59:60Z"), "real date"),
    ("time-unicode-digits", "lot.ship", _set(("time",), "٢٠٢٥-06-02T08:30:00Z"), "time"),
    ("prev-not-object", "lot.ship", _set(("prev",), []), "prev"),
    ("prev-bad-hash", "lot.ship", _set(("prev", "ALUS-ENC-2025-0042"), "AB" * 32), "prev"),
    ("prev-untouched-lot", "lot.ship", _set(("prev", "OTHER-LOT"), H), "does not touch"),
    ("prev-on-create", "lot.create", _set(("prev",), {"ALUS-PRIM-2025-0001": H}), "does not touch"),
    ("prev-on-register", "party.register", _set(("prev",), {"X": H}), "does not touch"),
    ("body-not-object", "lot.ship", _set(("body",), "x"), "body"),
    ("sig-padded", "lot.ship", lambda e: e.update(sig=e["sig"] + "=="), "sig"),
    ("sig-short", "lot.ship", lambda e: e.update(sig=e["sig"][:-2]), "sig"),
    ("sig-standard-alphabet", "lot.ship", lambda e: e.update(sig="+" + e["sig"][1:]), "sig"),
    ("sig-nonzero-tail-bits", "lot.ship", lambda e: e.update(sig=e["sig"][:-1] + "B"), "sig"),
]


@pytest.mark.parametrize(
    ("type_", "edit", "match"), [c[1:] for c in ENVELOPE_CASES], ids=[c[0] for c in ENVELOPE_CASES]
)
def test_envelope_negative(type_: str, edit: Callable[[dict[str, Any]], None], match: str) -> None:
    env = _env(type_)
    edit(env)
    err = _invalid(env)
    assert match in str(err)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"ltl":1,"ltl":1}',
        b'{"ltl":1.0}',
        b'{"ltl":NaN}',
        b'{"ltl":9007199254740992}',
        b'{"a":"\\ud800"}',
        b"\xff{}",
        b"[" * 40 + b"]" * 40,
        b'{"pad":"' + b"x" * (64 * 1024) + b'"}',
        b"not json",
    ],
    ids=[
        "duplicate-key",
        "float",
        "nan",
        "big-int",
        "lone-surrogate",
        "bad-utf8",
        "too-deep",
        "too-large",
        "not-json",
    ],
)
def test_strict_json_negative(raw: bytes) -> None:
    with pytest.raises(RuleViolation) as info:
        parse_event(raw)
    assert info.value.code == "invalid_event"


def test_float_inside_body_is_refused() -> None:
    raw = BY_TYPE["lot.ship"].canonical.replace(b'"mass_kg":"19500"', b'"mass_kg":19500.0')
    with pytest.raises(RuleViolation, match="not an integer"):
        parse_event(raw)


def test_lone_surrogate_in_built_event_is_refused() -> None:
    env = _env("lot.attest")
    env["body"]["statement"] = "bad \udc00"
    assert "surrogate" in str(_invalid(env))


# --- body schemas: unknown fields at any depth, required members, value formats ---------------

BODY_CASES: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    # unknown members, every depth
    ("unknown-body-field", "lot.ship", _set(("body", "note"), "x"), "unknown member"),
    (
        "unknown-party-field",
        "party.register",
        _set(("body", "party", "email"), "x"),
        "unknown member",
    ),
    (
        "unknown-key-field",
        "party.register",
        _set(("body", "keys", 0, "use"), "sig"),
        "unknown member",
    ),
    ("unknown-site-field", "lot.create", _set(("body", "site", "city"), "x"), "unknown member"),
    ("unknown-input-field", "lot.transform", _set(("body", "inputs", 0, "x"), 1), "unknown member"),
    (
        "unknown-output-field",
        "lot.transform",
        _set(("body", "outputs", 0, "source"), "virgin"),
        "unknown member",
    ),
    (
        "unknown-document-field",
        "lot.ship",
        _set(("body", "documents"), [{"kind": "k", "ref": "r", "url": "u"}]),
        "unknown member",
    ),
    ("unknown-report-field", "lot.assay", _set(("body", "report", "lab"), "x"), "unknown member"),
    # required members
    ("missing-mass", "lot.ship", _drop(("body", "mass_kg")), "missing member"),
    ("missing-source", "lot.create", _drop(("body", "source")), "missing member"),
    ("missing-feoc", "party.register", _drop(("body", "party", "feoc")), "missing member"),
    ("missing-site-country", "lot.transform", _drop(("body", "site", "country")), "missing member"),
    ("missing-report-ref", "lot.assay", _drop(("body", "report", "ref")), "missing member"),
    # masses
    ("mass-exponent", "lot.ship", _set(("body", "mass_kg"), "1e3"), "not a mass"),
    ("mass-leading-zero", "lot.ship", _set(("body", "mass_kg"), "0100"), "not a mass"),
    ("mass-negative", "lot.adjust", _set(("body", "mass_kg"), "-1"), "not a mass"),
    ("mass-number", "lot.ship", _set(("body", "mass_kg"), 19500), "not a mass"),
    ("mass-7-decimals", "lot.ship", _set(("body", "mass_kg"), "1.0000001"), "not a mass"),
    ("mass-13-digits", "lot.ship", _set(("body", "mass_kg"), "1000000000000"), "not a mass"),
    ("mass-zero-create", "lot.create", _set(("body", "mass_kg"), "0"), "more than 0"),
    ("mass-zero-ship", "lot.ship", _set(("body", "mass_kg"), "0.000"), "more than 0"),
    (
        "mass-zero-input",
        "lot.transform",
        _set(("body", "inputs", 0, "mass_kg"), "0"),
        "more than 0",
    ),
    (
        "mass-zero-output",
        "lot.transform",
        _set(("body", "outputs", 0, "mass_kg"), "0"),
        "more than 0",
    ),
    ("kg-zero-allocate", "credit.allocate", _set(("body", "kg"), "0"), "more than 0"),
    # compositions and fractions
    (
        "fraction-above-one",
        "lot.assay",
        _set(("body", "composition"), {"Al": "1.1"}),
        "not a fraction",
    ),
    (
        "fraction-7-decimals",
        "lot.assay",
        _set(("body", "composition"), {"Al": "0.1234567"}),
        "not a fraction",
    ),
    ("fraction-number", "lot.assay", _set(("body", "composition"), {"Al": 0}), "not a fraction"),
    (
        "composition-sum-above-one",
        "lot.assay",
        _set(("body", "composition"), {"Al": "0.9", "Si": "0.2"}),
        "sum to 1.1",
    ),
    (
        "composition-bad-element",
        "lot.create",
        _set(("body", "composition"), {"Xx": "0.1"}),
        "not a chemical element",
    ),
    (
        "composition-lowercase-element",
        "lot.create",
        _set(("body", "composition"), {"ni": "0.1"}),
        "not a chemical element",
    ),
    (
        "composition-not-object",
        "lot.assay",
        _set(("body", "composition"), ["Al"]),
        "must be an object",
    ),
    # identifiers, enums
    ("lot-id-bad-start", "lot.ship", _set(("body", "lot"), "-LOT"), "not a lot id"),
    ("lot-id-space", "lot.ship", _set(("body", "lot"), "LOT 1"), "not a lot id"),
    ("lot-id-129-chars", "lot.create", _set(("body", "lot"), "L" * 129), "not a lot id"),
    ("to-not-party-id", "lot.ship", _set(("body", "to"), "Packco"), "not a party id"),
    ("ship-hash-short", "lot.receive", _set(("body", "ship"), "abc"), "SHA-256"),
    ("country-lowercase", "lot.create", _set(("body", "site", "country"), "us"), "ISO 3166"),
    ("country-unassigned", "party.register", _set(("body", "party", "country"), "XX"), "ISO 3166"),
    ("role-unknown", "party.register", _set(("body", "party", "roles"), ["miner"]), "not one of"),
    ("roles-empty", "party.register", _set(("body", "party", "roles"), []), "not be empty"),
    (
        "roles-repeated",
        "party.register",
        _set(("body", "party", "roles"), ["operator", "operator"]),
        "twice",
    ),
    ("feoc-string", "party.register", _set(("body", "party", "feoc"), "false"), "true or false"),
    ("source-unknown", "lot.create", _set(("body", "source"), "recycled"), "not one of"),
    ("model-unknown", "lot.transform", _set(("body", "model"), "book_and_claim"), "not one of"),
    ("category-virgin", "credit.allocate", _set(("body", "category"), "virgin"), "not one of"),
    (
        "element-unknown",
        "credit.allocate",
        _set(("body", "element"), "Nickel"),
        "not a chemical element",
    ),
    ("name-empty", "party.register", _set(("body", "party", "name"), ""), "not be empty"),
    ("material-too-long", "lot.create", _set(("body", "material"), "m" * 1025), "1024 bytes"),
    ("name-too-many-bytes", "lot.create", _set(("body", "material"), "가" * 342), "1024 bytes"),
    ("reason-too-long", "lot.adjust", _set(("body", "reason"), "r" * 4097), "4096 bytes"),
    ("text-nul", "lot.create", _set(("body", "material"), "Al\u0000"), "U+0000"),
    ("text-newline", "lot.create", _set(("body", "site", "name"), "a\nb"), "U+000A"),
    ("text-c1", "lot.create", _set(("body", "material"), "Al\u0085"), "U+0085"),
    ("text-bidi-override", "lot.create", _set(("body", "material"), "\u202eAl"), "U+202E"),
    ("text-bidi-isolate", "lot.create", _set(("body", "material"), "Al\u2066x"), "U+2066"),
    (
        "document-sha-bad",
        "lot.ship",
        _set(("body", "documents"), [{"kind": "k", "ref": "r", "sha256": "x"}]),
        "SHA-256",
    ),
    ("expires-bad", "lot.attest", _set(("body", "expires"), "tomorrow"), "time"),
    # keys
    ("key-alg", "party.register", _set(("body", "keys", 0, "alg"), "EdDSA"), "Ed25519"),
    (
        "key-kid-mismatch",
        "party.register",
        _set(("body", "keys", 0, "kid"), "0" * 16),
        "not the kid of pub",
    ),
    ("key-pub-short", "party.register", _set(("body", "keys", 0, "pub"), "AAAA"), "32-byte"),
    (
        "key-pub-padded",
        "party.register",
        lambda e: e["body"]["keys"][0].update(pub=e["body"]["keys"][0]["pub"] + "="),
        "base64url",
    ),
    ("keys-empty", "party.register", _set(("body", "keys"), []), "not be empty"),
    (
        "keys-repeated",
        "party.register",
        lambda e: e["body"]["keys"].append(dict(e["body"]["keys"][0])),
        "twice",
    ),
    # lists in transforms
    ("inputs-empty", "lot.transform", _set(("body", "inputs"), []), "not be empty"),
    ("outputs-not-list", "lot.transform", _set(("body", "outputs"), {}), "JSON array"),
    (
        "inputs-repeated",
        "lot.transform",
        lambda e: e["body"]["inputs"].append(dict(e["body"]["inputs"][0])),
        "twice",
    ),
    (
        "output-is-input",
        "lot.transform",
        lambda e: e["body"]["outputs"][0].update(lot=e["body"]["inputs"][0]["lot"]),
        "already an input",
    ),
]


@pytest.mark.parametrize(
    ("type_", "edit", "match"), [c[1:] for c in BODY_CASES], ids=[c[0] for c in BODY_CASES]
)
def test_body_negative(type_: str, edit: Callable[[dict[str, Any]], None], match: str) -> None:
    env = _env(type_)
    edit(env)
    err = _invalid(env)
    assert match in str(err), str(err)


def test_error_names_the_json_path() -> None:
    env = _env("lot.transform")
    env["body"]["outputs"][0]["composition"]["Al"] = "2"
    assert str(_invalid(env)).startswith("invalid_event: body.outputs[0].composition.Al:")


def test_key_revoke_schema() -> None:
    body = {
        "party": "bwm",
        "kid": "0" * 16,
        "reason": "laptop stolen",
        "compromised_since": "2025-06-01T00:00:00Z",
    }
    ev = sign(
        type="key.revoke", actor="bwm", key=KEYS["bwm"], body=body, time="2025-06-02T00:00:00Z"
    )
    assert ev.body["compromised_since"] == "2025-06-01T00:00:00Z"
    with pytest.raises(RuleViolation, match="after the event time"):
        sign(
            type="key.revoke", actor="bwm", key=KEYS["bwm"], body=body, time="2025-05-01T00:00:00Z"
        )
    with pytest.raises(RuleViolation, match="unknown member"):
        sign(
            type="key.revoke",
            actor="bwm",
            key=KEYS["bwm"],
            body={**body, "note": "x"},
            time=now_text(),
        )


def test_key_add_schema() -> None:
    body = {"party": "bwm", "key": key_object(private_key("bwm-2"))}
    assert (
        sign(type="key.add", actor="bwm", key=KEYS["bwm"], body=body, time=now_text()).body == body
    )
    bad = {"party": "bwm", "key": {**key_object(private_key("bwm-2")), "extra": 1}}
    with pytest.raises(RuleViolation, match="unknown member"):
        sign(type="key.add", actor="bwm", key=KEYS["bwm"], body=bad, time=now_text())


def test_optional_members_accepted() -> None:
    body = {
        "lot": "L",
        "site": "",
        "element": "Ni",
        "category": "pre_consumer_battery",
        "kg": "1.50",
    }
    assert (
        sign(
            type="credit.allocate",
            actor="bwm",
            key=KEYS["bwm"],
            body=body,
            prev={"L": H},
            time=now_text(),
        ).body["kg"]
        == "1.50"
    )
    body2 = {"lot": "L", "to": "alus", "mass_kg": "1", "documents": []}
    assert (
        sign(
            type="lot.ship", actor="bwm", key=KEYS["bwm"], body=body2, prev={}, time=now_text()
        ).prev
        == {}
    )


# --- scalar helpers -----------------------------------------------------------------------------


def test_reference_lists() -> None:
    assert len(ELEMENTS) == 118 and {"Al", "Co", "Ni", "Li", "Mn", "Cu", "Pb", "Og"} <= ELEMENTS
    assert len(COUNTRIES) == 249 and {"US", "KR", "CA", "MX", "CN"} <= COUNTRIES
    assert "UK" not in COUNTRIES and "XK" not in COUNTRIES


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-02T08:30:00Z", datetime(2025, 6, 2, 8, 30, tzinfo=UTC)),
        ("2025-06-02T08:30:00.5Z", datetime(2025, 6, 2, 8, 30, 0, 500000, tzinfo=UTC)),
        ("2024-02-29T23:59:59.000001Z", datetime(2024, 2, 29, 23, 59, 59, 1, tzinfo=UTC)),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected
    assert format_time(expected) == text


def test_format_time() -> None:
    kst = timezone(timedelta(hours=9))
    assert format_time(datetime(2025, 6, 2, 17, 30, tzinfo=kst)) == "2025-06-02T08:30:00Z"
    assert format_time(datetime(2025, 6, 2, 8, 30, 0, 120000, tzinfo=UTC)) == (
        "2025-06-02T08:30:00.12Z"
    )
    assert format_time(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00Z"
    with pytest.raises(ValueError, match="aware"):
        format_time(datetime(2025, 1, 1))


@pytest.mark.parametrize("text", ["2025-13-01T00:00:00Z", "0000-01-01T00:00:00Z", "x", ""])
def test_parse_time_negative(text: str) -> None:
    with pytest.raises(RuleViolation):
        parse_time(text)


@given(
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
    )
)
def test_time_round_trip(dt: datetime) -> None:
    assert parse_time(format_time(dt)) == dt


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("20000"), "20000"),
        (Decimal("20000.500"), "20000.5"),
        (Decimal("2E+4"), "20000"),
        (Decimal("0.000001"), "0.000001"),
        (Decimal("0"), "0"),
        (Decimal("-0"), "0"),
        (Decimal("0.00"), "0"),
        (Decimal("999999999999.999999"), "999999999999.999999"),
    ],
)
def test_format_mass(value: Decimal, text: str) -> None:
    assert format_mass(value) == text
    assert parse_mass(text) == value


@pytest.mark.parametrize(
    "value",
    [Decimal("-1"), Decimal("0.0000001"), Decimal("NaN"), Decimal("1E+12")],
    ids=["negative", "7-decimals", "nan", "13-digits"],
)
def test_format_mass_negative(value: Decimal) -> None:
    with pytest.raises(ValueError):
        format_mass(value)


@pytest.mark.parametrize("text", ["1e3", "01", "-1", "1.", ".5", " 1", "1.0000000", ""])
def test_parse_mass_negative(text: str) -> None:
    with pytest.raises(RuleViolation):
        parse_mass(text)


@given(st.decimals(min_value=0, max_value=Decimal("999999999999.999999"), places=6))
def test_mass_round_trip(value: Decimal) -> None:
    assert parse_mass(format_mass(value)) == value


def test_stored_event_equals_the_validated_parse() -> None:
    """The trusted fast path for the ledger's own stored bytes builds the same event."""
    from ledger.core.events import parse_event, stored_event
    from tests.support.scenario import scenario_events

    for ev in scenario_events():
        assert stored_event(ev.canonical, ev.hash) == parse_event(ev.canonical)


def test_every_lot_body_may_name_the_epcis_event_it_was_imported_from() -> None:
    """Spec §4: an optional ``epcis_event`` (a CBV 2.0 event hash) on every lot.* body, and
    nowhere else; anything but the hash form is refused."""
    digest = "ni:///sha-256;" + "ab" * 32 + "?ver=CBV2.0"
    for type_, ev in BY_TYPE.items():
        env = copy.deepcopy(ev.envelope)
        env["body"]["epcis_event"] = digest
        del env["sig"]
        if type_.startswith("lot."):
            signed = sign_event(env, KEYS[ev.actor])
            assert signed.body["epcis_event"] == digest
        else:
            with pytest.raises(RuleViolation, match="unknown member"):
                sign_event(env, KEYS[ev.actor])
    env = copy.deepcopy(BY_TYPE["lot.adjust"].envelope)
    del env["sig"]
    for bad in (digest.upper(), digest.replace("CBV2.0", "CBV1.2"), "urn:uuid:x", 7):
        env["body"]["epcis_event"] = bad
        with pytest.raises(RuleViolation, match="epcis_event"):
            sign_event(env, KEYS["packco"])
