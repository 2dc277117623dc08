"""The published JSON Schemas (``ledger.core.json_schema``) agree with the server's validation.

Both come from the same checkers (``ledger.core.schema``), and this proves it on data: the whole
accepted corpus (every scenario event, every event type, optional members) and the refused
corpus (the named negative cases of tests/core/test_events.py, and the Hypothesis mutations of
tests/e2e/test_hostile_events.py that survive the strict JSON parse) go through both
``jsonschema`` (Draft 2020-12, format checking on) and ``check_envelope``, and the verdicts must
agree. The only disagreements allowed are listed in :data:`BEYOND_JSON_SCHEMA`: refusals JSON
Schema cannot express, where the schema accepts and the server refuses (the schema is looser,
never stricter). docs/spec.md §3.10 lists the same differences.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, ValidationError, validators

from ledger.core import canonical
from ledger.core.json_schema import (
    DRAFT,
    ENVELOPE,
    SCHEMA_BASE,
    body_name,
    documents,
    openapi_components,
)
from ledger.core.schema import FORBIDDEN_TEXT_PATTERN, check_envelope
from ledger.core.values import EVENT_TYPES, FORBIDDEN_TEXT_RE
from ledger.errors import LedgerError, RuleViolation
from tests.core.test_events import BODY_CASES, ENVELOPE_CASES, EVENTS
from tests.e2e import test_hostile_events as hostile
from tests.support.scenario import private_key

#: server refusals JSON Schema cannot express (message pattern -> why): the schema accepts these
BEYOND_JSON_SCHEMA = {
    r"is longer than \d+ bytes in UTF-8": "maxLength counts characters, the limit is in bytes",
    r"is not the kid of pub": "a kid is derived from its key (SHA-256)",
    r"fractions sum to": "a composition's fractions sum to at most 1 (decimal arithmetic)",
    r"lists an entry twice": "no two keys share a kid, no two inputs/outputs share a lot",
    r"is already an input": "a transform's outputs are new lots, not its inputs",
    r"does not touch lot": "prev names exactly the lots the body touches (beyond their count)",
    r"is after the event time": "compromised_since is not after the event time",
    r"is not a real date and time": "no `format: date-time` (typed clients would re-format a "
    "signed time); the pattern allows 2025-02-30",
}


def _ecma_pattern(
    validator: Any, pattern: str, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """``pattern`` with ECMA-262's ``$`` (end of input; Python's ``$`` also matches before a
    final newline, which the schema's patterns never allow)."""
    if not validator.is_type(instance, "string"):
        return
    rx = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    if re.search(rx, instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


Validator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})
DOCS = documents()
ENVELOPE_VALIDATOR = Validator(DOCS[ENVELOPE], format_checker=Draft202012Validator.FORMAT_CHECKER)


def _server(obj: Any) -> str | None:
    """None when ``check_envelope`` accepts ``obj``, else its refusal message."""
    try:
        check_envelope(obj)
    except RuleViolation as e:
        assert e.code == "invalid_event"
        return e.message
    return None


def _schema_ok(obj: Any) -> bool:
    return ENVELOPE_VALIDATOR.is_valid(obj)


def _assert_agree(obj: Any, label: str) -> str | None:
    """Assert the verdicts agree (or differ as allowed); the allowed difference, if any."""
    refusal = _server(obj)
    valid = _schema_ok(obj)
    if (refusal is None) == valid:
        return None
    assert valid, f"{label}: the schema refuses what the server accepts: {obj!r}"
    assert refusal is not None
    allowed = [rx for rx in BEYOND_JSON_SCHEMA if re.search(rx, refusal)]
    assert allowed, f"{label}: the schema accepts what the server refuses ({refusal})"
    return allowed[0]


def test_documents_are_2020_12_with_stable_ids() -> None:
    assert list(DOCS) == [ENVELOPE, *EVENT_TYPES]
    for name, doc in DOCS.items():
        Draft202012Validator.check_schema(doc)
        assert doc["$schema"] == DRAFT
        assert doc["$id"] == f"{SCHEMA_BASE}{name}.json"
    components = openapi_components()
    for t in EVENT_TYPES:  # the OpenAPI components are the same schemas
        standalone = {k: v for k, v in DOCS[t].items() if k not in ("$schema", "$id")}
        assert components[body_name(t)] == standalone == DOCS[ENVELOPE]["$defs"][body_name(t)]
    assert json.dumps(DOCS) == json.dumps(documents())  # deterministic


def test_forbidden_text_pattern_is_the_servers() -> None:
    assert re.compile(FORBIDDEN_TEXT_PATTERN).pattern != FORBIDDEN_TEXT_RE.pattern
    for cp in range(0x3000):
        c = chr(cp)
        assert bool(re.search(FORBIDDEN_TEXT_PATTERN, c)) == bool(FORBIDDEN_TEXT_RE.search(c))


def _accepted_corpus() -> Iterator[tuple[str, dict[str, Any]]]:
    for i, ev in enumerate(EVENTS):
        yield f"{i}-{ev.type}", copy.deepcopy(dict(ev.envelope))
    by_type = {ev.type: ev for ev in EVENTS}
    digest = "ni:///sha-256;" + "ab" * 32 + "?ver=CBV2.0"
    for t, ev in by_type.items():  # the optional members
        env = copy.deepcopy(dict(ev.envelope))
        if t.startswith("lot."):
            env["body"]["epcis_event"] = digest
            yield f"{t}-epcis", env
    revoke = copy.deepcopy(dict(by_type["key.revoke"].envelope))
    revoke["body"]["compromised_since"] = revoke["time"]
    yield "key.revoke-compromised", revoke
    credit = copy.deepcopy(dict(by_type["credit.allocate"].envelope))
    credit["body"]["site"] = ""
    yield "credit-empty-site", credit
    ship = copy.deepcopy(dict(by_type["lot.ship"].envelope))
    ship["body"]["documents"] = []
    yield "ship-no-documents", ship
    create = copy.deepcopy(dict(by_type["lot.create"].envelope))
    create["body"]["material"] = "é" * 512  # 1024 bytes: the limit exactly
    yield "text-at-the-byte-limit", create


def test_every_event_type_is_in_the_accepted_corpus() -> None:
    assert {env["type"] for _, env in _accepted_corpus()} == set(EVENT_TYPES)


@pytest.mark.parametrize(("label", "env"), list(_accepted_corpus()))
def test_accepted_corpus_is_valid_under_both(label: str, env: dict[str, Any]) -> None:
    assert _server(env) is None
    errors = [e.message for e in ENVELOPE_VALIDATOR.iter_errors(env)]
    assert not errors, errors
    body = Validator(DOCS[env["type"]], format_checker=Draft202012Validator.FORMAT_CHECKER)
    assert body.is_valid(env["body"])


#: the named negative cases where the schema deliberately accepts (and why)
EXPECTED_DIFFERENCES = {
    "composition-sum-above-one": r"fractions sum to",
    "name-too-many-bytes": r"is longer than \d+ bytes in UTF-8",
    "key-kid-mismatch": r"is not the kid of pub",
    "keys-repeated": r"lists an entry twice",
    "inputs-repeated": r"lists an entry twice",
    "output-is-input": r"is already an input",
    "time-not-a-date": r"is not a real date and time",
    "time-leap-second": r"is not a real date and time",
}
_by_type = {ev.type: ev for ev in EVENTS}
_NAMED = [*ENVELOPE_CASES, *BODY_CASES]


@pytest.mark.parametrize(
    ("name", "type_", "edit"), [c[:3] for c in _NAMED], ids=[c[0] for c in _NAMED]
)
def test_refused_corpus_agrees(
    name: str, type_: str, edit: Callable[[dict[str, Any]], None]
) -> None:
    env = copy.deepcopy(dict(_by_type[type_].envelope))
    edit(env)
    try:
        canonical.jcs(env)  # a refusal of the strict JSON layer is not a schema refusal
    except LedgerError:
        return  # refused as JSON (spec §2.1: a lone surrogate), before the schema
    refusal = _server(env)
    assert refusal is not None, name
    difference = _assert_agree(env, name)
    assert difference == EXPECTED_DIFFERENCES.get(name), (name, refusal)


def test_byte_limits_are_the_documented_difference() -> None:
    env = copy.deepcopy(dict(_by_type["lot.create"].envelope))
    env["body"]["material"] = "é" * 513  # 513 characters, 1026 bytes
    assert _assert_agree(env, "bytes") == r"is longer than \d+ bytes in UTF-8"
    env["body"]["material"] = "e" * 1025
    assert _server(env) is not None and not _schema_ok(env)


def test_the_other_documented_differences() -> None:
    reg = copy.deepcopy(dict(_by_type["party.register"].envelope))
    other = copy.deepcopy(reg["body"]["keys"][0])
    other["kid"] = "0" * 16
    reg["body"]["keys"] = [other]
    assert _assert_agree(reg, "kid") == r"is not the kid of pub"
    reg = copy.deepcopy(dict(_by_type["party.register"].envelope))
    reg["body"]["keys"] = reg["body"]["keys"] * 2
    assert _assert_agree(reg, "twice") == r"lists an entry twice"
    assay = copy.deepcopy(dict(_by_type["lot.assay"].envelope))
    assay["body"]["composition"] = {"Al": "0.9", "Si": "0.2"}
    assert _assert_agree(assay, "sum") == r"fractions sum to"
    revoke = copy.deepcopy(dict(_by_type["key.revoke"].envelope))
    revoke["body"]["compromised_since"] = "2999-01-01T00:00:00Z"
    assert _assert_agree(revoke, "since") == r"is after the event time"
    found = set()
    for label, env in _accepted_corpus():
        if env["type"] == "lot.transform":
            env["prev"][env["body"]["inputs"][0]["lot"] + "-X"] = "ab" * 32
            found.add(_assert_agree(env, label))
    assert found == {r"does not touch lot"}


# --- the hostile corpus ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[hostile.World]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('schema')) / 'ledger.db'}"
    ledger, bases = hostile._world_ledger(url)
    yield hostile.World(None, {}, ledger, bases)  # type: ignore[arg-type]
    ledger.close()


@pytest.mark.parametrize("mutation", hostile.MUTATIONS, ids=lambda m: m.__name__.strip("_"))
@settings(
    deadline=None,
    derandomize=True,
    database=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_hostile_corpus_agrees(world: hostile.World, mutation: Any, data: st.DataObject) -> None:
    case = data.draw(mutation(world), label="hostile")
    try:
        obj = canonical.loads(case.raw, allow_floats=False, max_bytes=None)
    except LedgerError:
        return  # refused as JSON (spec §2.1), before the schema
    _assert_agree(obj, case.why)


def test_a_key_built_by_our_code_is_valid() -> None:
    from ledger.core.keys import key_object

    key = key_object(private_key("spare"))
    schema = DOCS[ENVELOPE]["$defs"]["KeyAddBody"]["properties"]["key"]
    assert Validator(schema).is_valid(key)
