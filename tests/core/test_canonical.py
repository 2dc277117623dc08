"""Strict JSON (spec §2) and RFC 8785 canonical form: public vectors, named negative
cases, and Hypothesis properties proving the fast path of ``jcs`` equals the ``rfc8785`` package."""

from __future__ import annotations

import decimal
import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.canonical import (
    MAX_DEPTH,
    MAX_EVENT_BYTES,
    MAX_SAFE_INTEGER,
    _fast_path_ok,
    check_value,
    jcs,
    loads,
)
from ledger.errors import RuleViolation

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "json-canonicalization" / "testdata"
VECTOR_NAMES = sorted(p.stem for p in (VECTORS / "input").glob("*.json"))


# --- RFC 8785 vectors (cyberphone/json-canonicalization) ---------------------------------------


def test_all_six_vectors_present() -> None:
    assert VECTOR_NAMES == ["arrays", "french", "structures", "unicode", "values", "weird"]


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_rfc8785_vector(name: str) -> None:
    value = loads(
        (VECTORS / "input" / f"{name}.json").read_bytes(), allow_floats=True, max_bytes=None
    )
    expected = (VECTORS / "output" / f"{name}.json").read_bytes()
    expected_hex = bytes.fromhex((VECTORS / "outhex" / f"{name}.txt").read_text())
    assert expected == expected_hex
    assert jcs(value) == expected
    # The canonical form is a fixed point.
    assert jcs(loads(expected, allow_floats=True, max_bytes=None)) == expected


# --- Named negative cases: every strict rule of spec §2 ----------------------------------

_NESTED_33 = b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
_NESTED_33_OBJECTS = b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1)
_OVERSIZE = b'"' + b"a" * (MAX_EVENT_BYTES - 1) + b'"'  # 65 537 bytes

REJECTED: list[tuple[str, bytes, str]] = [
    ("duplicate-key-top-level", b'{"a":1,"a":2}', r"duplicate object key 'a'"),
    ("duplicate-key-nested", b'{"body":{"lot":"X","lot":"X"}}', r"duplicate object key 'lot'"),
    ("duplicate-key-in-array", b'[{"x":1},{"y":1,"y":2}]', r"duplicate object key 'y'"),
    ("duplicate-key-via-escape", b'{"a":1,"\\u0061":2}', r"duplicate object key 'a'"),
    ("nan", b'{"m":NaN}', r"NaN is not JSON"),
    ("infinity", b'{"m":Infinity}', r"Infinity is not JSON"),
    ("minus-infinity", b'{"m":-Infinity}', r"-Infinity is not JSON"),
    ("float-fraction", b'{"mass_kg":1.5}', r"the number 1\.5 is not an integer.*decimal strings"),
    ("float-exponent", b'{"mass_kg":1e3}', r"the number 1e3 is not an integer"),
    ("float-zero", b"[0.0]", r"the number 0\.0 is not an integer"),
    ("integer-2^53", b'{"seq":9007199254740992}', r"9007199254740992 is outside \+/-\(2\^53-1\)"),
    ("integer-minus-2^53", b'{"seq":-9007199254740992}', r"-9007199254740992 is outside"),
    ("integer-5000-digits", b"1" + b"0" * 4999, r"not valid JSON"),
    ("lone-high-surrogate-escaped", b'{"s":"\\ud800"}', r"lone UTF-16 surrogate"),
    ("lone-low-surrogate-escaped", b'["\\udc00x"]', r"lone UTF-16 surrogate"),
    ("reversed-surrogate-pair", b'"\\ude02\\ud83d"', r"lone UTF-16 surrogate"),
    ("lone-surrogate-in-key", b'{"\\ud800":1}', r"lone UTF-16 surrogate"),
    ("lone-surrogate-raw-bytes", b'{"s":"\xed\xa0\x80"}', r"invalid UTF-8 at byte 6"),
    ("invalid-utf8-ff", b'{"s":"\xff"}', r"invalid UTF-8 at byte 6"),
    ("invalid-utf8-overlong", b'"\xc0\xaf"', r"invalid UTF-8 at byte 1"),
    ("invalid-utf8-truncated", b'"\xe2\x82"', r"invalid UTF-8 at byte 1"),
    ("depth-33-arrays", _NESTED_33, r"nesting deeper than 32"),
    ("depth-33-objects", _NESTED_33_OBJECTS, r"nesting deeper than 32"),
    ("over-64-KiB", _OVERSIZE, r"65537 bytes is over the 65536-byte limit"),
    ("not-json", b'{"a":1,}', r"not valid JSON"),
    ("trailing-data", b'{"a":1} {"b":2}', r"not valid JSON"),
]


@pytest.mark.parametrize(("doc", "match"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED])
def test_strict_rule_rejected(doc: bytes, match: str) -> None:
    with pytest.raises(RuleViolation, match=match) as info:
        loads(doc)
    assert info.value.code == "invalid_event"
    assert len(info.value.message) > 20  # says what is wrong, not just "invalid"


REJECTED_EVEN_WITH_FLOATS: list[tuple[str, bytes, str]] = [
    ("nan", b"[NaN]", r"NaN is not JSON"),
    ("infinity", b"[Infinity]", r"Infinity is not JSON"),
    ("overflow-to-infinity", b'{"x":1e400}', r"inf is not a JSON number"),
    ("overflow-to-minus-infinity", b"[-1E400]", r"-inf is not a JSON number"),
    ("duplicate-key", b'{"a":0.5,"a":0.5}', r"duplicate object key"),
]


@pytest.mark.parametrize(
    ("doc", "match"),
    [r[1:] for r in REJECTED_EVEN_WITH_FLOATS],
    ids=[r[0] for r in REJECTED_EVEN_WITH_FLOATS],
)
def test_rejected_even_when_floats_allowed(doc: bytes, match: str) -> None:
    with pytest.raises(RuleViolation, match=match) as info:
        loads(doc, allow_floats=True, max_bytes=None)
    assert info.value.code == "invalid_event"


def test_lone_surrogate_in_text_input_rejected() -> None:
    with pytest.raises(RuleViolation, match="invalid UTF-8") as info:
        loads('{"s":"\ud800"}')
    assert info.value.code == "invalid_event"


# --- Boundaries that must be accepted ------------------------------------------------------------

ACCEPTED: list[tuple[str, bytes, Any]] = [
    ("depth-32-arrays", b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, None),
    ("depth-32-objects", b'{"a":' * (MAX_DEPTH - 1) + b"1" + b"}" * (MAX_DEPTH - 1), None),
    (
        "integer-2^53-1",
        b"[9007199254740991,-9007199254740991]",
        [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER],
    ),
    ("minus-zero-integer", b"-0", 0),
    ("surrogate-pair-escaped", b'"\\ud83d\\ude02"', "\U0001f602"),
    ("astral-raw-utf8", '"\U0001f602"'.encode(), "\U0001f602"),
    ("exactly-64-KiB", b'"' + b"a" * (MAX_EVENT_BYTES - 2) + b'"', "a" * (MAX_EVENT_BYTES - 2)),
    ("same-key-in-sibling-objects", b'[{"a":1},{"a":1}]', [{"a": 1}, {"a": 1}]),
]


@pytest.mark.parametrize(
    ("doc", "expected"), [r[1:] for r in ACCEPTED], ids=[r[0] for r in ACCEPTED]
)
def test_boundary_accepted(doc: bytes, expected: Any) -> None:
    value = loads(doc)
    if expected is not None:
        assert value == expected


def test_floats_only_when_allowed() -> None:
    assert loads(b'{"p":0.215}', allow_floats=True) == {"p": 0.215}
    assert jcs(loads(b"[1E30,4.50]", allow_floats=True)) == b"[1e+30,4.5]"


def test_size_limit_can_be_lifted() -> None:
    assert loads(_OVERSIZE, max_bytes=None) == "a" * (MAX_EVENT_BYTES - 1)


# --- Values built in-process: check_value and jcs refusals --------------------------------------

BAD_VALUES: list[tuple[str, Any, str]] = [
    ("float", {"mass_kg": 1.5}, r"not an integer"),
    ("nan", [float("nan")], r"not an integer"),
    ("integer-2^53", {"seq": 2**53}, r"outside"),
    ("lone-surrogate-value", {"s": "\udfff"}, r"lone UTF-16 surrogate"),
    ("lone-surrogate-key", {"\ud800": 1}, r"lone UTF-16 surrogate"),
    ("non-string-key", {1: "a"}, r"keys must be strings"),
    ("decimal", {"mass_kg": decimal.Decimal("1.5")}, r"Decimal is not a JSON value"),
    ("set", [{1, 2}], r"set is not a JSON value"),
    ("depth-33", json.loads(_NESTED_33), r"deeper than 32"),
]


@pytest.mark.parametrize(
    ("value", "match"), [r[1:] for r in BAD_VALUES], ids=[r[0] for r in BAD_VALUES]
)
def test_check_value_rejects(value: Any, match: str) -> None:
    with pytest.raises(RuleViolation, match=match) as info:
        check_value(value)
    assert info.value.code == "invalid_event"


def test_check_value_nonfinite_float_rejected_even_when_allowed() -> None:
    with pytest.raises(RuleViolation, match="not a JSON number"):
        check_value({"x": float("inf")}, allow_floats=True)


UNCANONICALIZABLE: list[tuple[str, Any]] = [
    ("lone-surrogate-ascii-keys", {"s": "\ud800"}),
    ("lone-surrogate-non-ascii-key", {"é": "\ud800"}),
    ("integer-2^53", {"seq": 2**53}),
    ("integer-minus-2^53", [-(2**53)]),
    ("nan", [float("nan")]),
    ("infinity", {"é": float("inf")}),
    ("decimal", {"mass_kg": decimal.Decimal("1")}),
    ("set", [{1}]),
    ("non-string-key", {1: 2}),
    ("bytes", {"b": b"x"}),
]


@pytest.mark.parametrize(
    "value", [r[1] for r in UNCANONICALIZABLE], ids=[r[0] for r in UNCANONICALIZABLE]
)
def test_jcs_refuses_non_json(value: Any) -> None:
    """Both paths of ``jcs`` refuse what RFC 8785 cannot express, always as a RuleViolation."""
    with pytest.raises(RuleViolation) as info:
        jcs(value)
    assert info.value.code == "invalid_event"
    with pytest.raises((rfc8785.CanonicalizationError, UnicodeEncodeError)):
        rfc8785.dumps(value)


def test_jcs_sorts_keys_by_utf16_code_units() -> None:
    # U+1F602 is D83D DE02 in UTF-16, so it sorts before U+FB33 (code-point order says after).
    assert (
        jcs({"\ufb33": 1, "\U0001f602": 2, "a": 3}) == '{"a":3,"\U0001f602":2,"\ufb33":1}'.encode()
    )


# --- Properties ----------------------------------------------------------------------------------

# Characters that stress escaping (controls, quote, backslash, DEL, U+2028) and key ordering
# (BMP above the surrogates vs astral characters, whose UTF-16 order differs from code-point order).
_TRICKY = st.sampled_from(
    list('aB\x00\x1f"\\/\x7fé\u2028€\ufb33\uffff\ue000\U00010000\U0001f602\U0010ffff')
)
_CHARS = st.characters(codec="utf-8") | _TRICKY  # codec="utf-8": no lone surrogates
_TEXT = st.text(_CHARS, max_size=12)
_ASCII_KEY = st.text(st.characters(max_codepoint=0x7F), max_size=6)
_ANY_KEY = st.text(_CHARS, max_size=4)
_SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.sampled_from([0, -1, MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER])
    | _TEXT
)


def _json(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        _SCALAR,
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=6),
        max_leaves=30,
    )


_ANY_JSON = _json(_ANY_KEY)
_ASCII_KEYED_JSON = _json(_ASCII_KEY)


@settings(max_examples=200, deadline=None)
@given(_ASCII_KEYED_JSON)
def test_fast_path_equals_rfc8785(value: Any) -> None:
    """The C-encoder fast path is taken for these values and emits exactly the JCS bytes."""
    assert _fast_path_ok(value)
    assert jcs(value) == rfc8785.dumps(value)


@settings(max_examples=200, deadline=None)
@given(_ANY_JSON)
def test_jcs_equals_rfc8785(value: Any) -> None:
    assert jcs(value) == rfc8785.dumps(value)


@settings(max_examples=200, deadline=None)
@given(_ANY_JSON)
def test_round_trip(value: Any) -> None:
    data = jcs(value)
    back = loads(data, max_bytes=None)
    assert back == value
    assert jcs(back) == data
