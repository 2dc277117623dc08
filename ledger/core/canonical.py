"""Strict JSON (spec §2) and RFC 8785 canonical form (JCS).

``loads`` is the only way the ledger turns bytes into JSON values: it refuses duplicate keys at any
depth, NaN/Infinity, integers outside +/-(2^53-1), floats (unless ``allow_floats``), lone
surrogates, invalid UTF-8, nesting deeper than 32 and documents over the size limit.

``jcs`` is the only function that produces canonical bytes; everything signs or hashes them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import rfc8785

from ..errors import RuleViolation

__all__ = [
    "MAX_DEPTH",
    "MAX_EVENT_BYTES",
    "MAX_SAFE_INTEGER",
    "check_value",
    "jcs",
    "loads",
]

MAX_EVENT_BYTES = 64 * 1024
MAX_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1


def _invalid(message: str) -> RuleViolation:
    return RuleViolation("invalid_event", message)


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _invalid(
                    f"duplicate object key {key!r}: every key may appear once per object; "
                    "remove the repeated member"
                )
            seen.add(key)
    return obj


def _parse_constant(name: str) -> Any:
    raise _invalid(f"{name} is not JSON: send numbers as decimal strings")


def _reject_float(text: str) -> Any:
    raise _invalid(
        f"the number {text} is not an integer: masses and fractions are decimal strings "
        '(e.g. "20000.5"), never JSON numbers'
    )


def _parse_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise _invalid(f"the integer {text} is outside +/-(2^53-1); send it as a string")
    return value


def _check_string(s: str) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid(
            "a string holds a lone UTF-16 surrogate (\\ud800-\\udfff without its pair); "
            "send valid Unicode"
        ) from None


def check_value(value: Any, *, allow_floats: bool = False, _depth: int = 1) -> None:
    """Check a decoded JSON value against the strict rules that the parser cannot see.

    Checks depth, lone surrogates in strings and keys, integer range and (unless ``allow_floats``)
    floats. Values built in-process (not parsed) should be checked with this before signing.

    Raises:
        RuleViolation: ``invalid_event`` naming the rule broken.
    """
    if _depth > MAX_DEPTH:
        raise _invalid(f"JSON nesting deeper than {MAX_DEPTH} levels; flatten the document")
    if isinstance(value, str):
        _check_string(value)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise _invalid(f"the integer {value} is outside +/-(2^53-1); send it as a string")
    elif isinstance(value, float):
        if not allow_floats:
            _reject_float(repr(value))
        if not math.isfinite(value):  # e.g. 1e400 parses to inf
            raise _invalid(f"{value!r} is not a JSON number: send numbers as decimal strings")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _invalid("object keys must be strings")
            _check_string(key)
            check_value(item, allow_floats=allow_floats, _depth=_depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            check_value(item, allow_floats=allow_floats, _depth=_depth + 1)
    else:
        raise _invalid(f"{type(value).__name__} is not a JSON value")


def loads(
    data: bytes | str,
    *,
    allow_floats: bool = False,
    max_bytes: int | None = MAX_EVENT_BYTES,
    walk: bool = True,
) -> Any:
    """Parse one JSON document strictly (spec §2).

    ``walk=False`` skips the depth and lone-surrogate walk; only for callers that validate
    the result against a closed schema and canonicalize it (``events.parse_event``: the schema
    bounds the depth, and encoding to UTF-8 refuses lone surrogates).

    Args:
        data: UTF-8 bytes (preferred) or text.
        allow_floats: accept JSON fractions (credentials and bundles may carry them; events never).
        max_bytes: size limit in bytes, ``None`` for no limit.

    Raises:
        RuleViolation: ``invalid_event`` naming the strict rule that was broken.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if max_bytes is not None and len(raw) > max_bytes:
        raise _invalid(f"document of {len(raw)} bytes is over the {max_bytes}-byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _invalid(f"invalid UTF-8 at byte {e.start}; send UTF-8 encoded JSON") from None
    parse_float: Callable[[str], Any] = float if allow_floats else _reject_float
    value, fine = _parse(text, parse_float) if len(raw) > FAST_PARSE_MIN else (None, False)
    if not fine:
        value = _parse_strict(text, parse_float)
    if allow_floats or (walk and not fine and _needs_walk(text) and not _plainly_fine(value, text)):
        check_value(value, allow_floats=allow_floats)
    return value


#: Documents over this size are parsed first without the duplicate-key hook (see ``_parse``).
FAST_PARSE_MIN = 64 * 1024

_KEY_SPACE_RE = re.compile(r'"[ \t\n\r]+:')


def _parse_strict(text: str, parse_float: Callable[[str], Any]) -> Any:
    try:
        return json.loads(
            text,
            object_pairs_hook=_pairs_hook,
            parse_constant=_parse_constant,
            parse_float=parse_float,
            parse_int=_parse_int,
        )
    except RuleViolation:
        raise
    except RecursionError:
        raise _invalid(
            f"JSON nesting deeper than {MAX_DEPTH} levels; flatten the document"
        ) from None
    except ValueError as e:
        raise _invalid(f"not valid JSON: {e}") from None


def _parse(text: str, parse_float: Callable[[str], Any]) -> tuple[Any, bool]:
    """``(value, True)`` when ``text`` parses into a value ``_parse_strict`` would return and
    ``check_value`` (floats aside) would accept, else ``(None, False)``: then ``_parse_strict``
    must parse it (and raise its usual error, in document order).

    For big documents (audit bundles): the C parser builds plain dicts, several times faster
    than through the duplicate-key hook, and one walk over the containers counts the objects'
    members and measures the depth. Every member is a string followed by ``:``; with no
    whitespace before any ``:`` after a quote, the occurrences of ``":`` are at least the
    members in the text (a string may hold more), and at least the members kept, which a
    duplicate key makes fewer: equal counts prove there is none.
    """
    try:
        value = json.loads(
            text, parse_constant=_parse_constant, parse_float=parse_float, parse_int=_parse_int
        )
    except Exception:  # any error: the strict parse raises the right one
        return None, False
    if "\\ud" in text or "\\uD" in text or _KEY_SPACE_RE.search(text) is not None:
        return None, False
    members = 0
    level = [value] if type(value) in _CONTAINERS else []
    depth = 1  # of the containers in ``level``
    while level:
        if depth == MAX_DEPTH and any(level):  # a member or item of these would be too deep
            return None, False
        children: list[Any] = []
        for item in level:
            if type(item) is dict:
                members += len(item)
                children += [c for c in item.values() if type(c) in _CONTAINERS]
            else:
                children += [c for c in item if type(c) in _CONTAINERS]
        level = children
        depth += 1
    if text.count('":') != members:
        return None, False
    return value, True


_CONTAINERS = (dict, list)


def _plainly_fine(value: Any, text: str) -> bool:
    """True when ``check_value`` (floats refused by the parser) would find nothing: no
    ``\\uD800``-``\\uDFFF`` escape, so no lone surrogate, and no value deeper than ``MAX_DEPTH``.

    A cheap exact test for big documents (an audit bundle nests an event per entry, so the
    bracket count of ``_needs_walk`` is always over the limit): the depth is measured level by
    level over containers only, strings never visited. False means "walk": ``check_value``
    then raises its usual error.
    """
    if "\\ud" in text or "\\uD" in text:
        return False
    level = [value] if type(value) in _CONTAINERS else []
    depth = 1  # of the containers in ``level``
    while level:
        if depth == MAX_DEPTH:
            return not any(level)  # a member or item of these would be too deep
        level = [
            child
            for item in level
            for child in (item.values() if type(item) is dict else item)
            if type(child) in _CONTAINERS
        ]
        depth += 1
    return True


def _needs_walk(text: str) -> bool:
    """Whether the parsed value can break a rule the parser itself does not enforce.

    The parser already refuses NaN/Infinity, floats (unless allowed) and big integers. What is
    left is depth and lone surrogates: valid UTF-8 cannot encode a surrogate, so one can only
    come from a ``\\uD800``-``\\uDFFF`` escape, and nesting deeper than ``MAX_DEPTH`` needs more
    than ``MAX_DEPTH`` brackets. Documents with neither (every ordinary event) skip the walk;
    documents that allow floats are always walked, to refuse non-finite values like ``1e400``.
    """
    if "\\ud" in text or "\\uD" in text:  # JSON escapes spell the u in lower case
        return True
    return text.count("{") + text.count("[") > MAX_DEPTH


def _fast_path_ok(value: Any) -> bool:
    """True when the C encoder's output is exactly JCS: only ASCII string keys, no floats, safe
    integers, and nothing that is not JSON (those go to ``rfc8785``, which refuses them)."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and k.isascii() and _fast_path_ok(v) for k, v in value.items()
        )
    if isinstance(value, list | tuple):
        return all(_fast_path_ok(v) for v in value)
    return False


_FAST = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False, check_circular=False
)


def jcs(value: Any) -> bytes:
    """Return ``JCS(value)``: the UTF-8 bytes of the RFC 8785 canonical form.

    Fast path: for values with no floats, only ASCII object keys and integers within
    +/-(2^53-1), the standard library's C encoder with sorted keys and no ASCII escaping emits
    exactly the RFC 8785 bytes (strings are escaped identically, ASCII keys sort the same by code
    point as by UTF-16 unit, integers print alike). Everything else goes through the ``rfc8785``
    reference package. A property test (tests/core/test_canonical.py) proves the two agree. This
    matters: events are canonicalized on every append and every verification.

    Raises:
        RuleViolation: ``invalid_event`` when the value cannot be canonicalized.
    """
    if _fast_path_ok(value):
        try:
            return _FAST.encode(value).encode("utf-8")
        except UnicodeEncodeError:
            raise _invalid("a string holds a lone UTF-16 surrogate") from None
    try:
        return bytes(rfc8785.dumps(value))
    except rfc8785.CanonicalizationError as e:
        raise _invalid(f"cannot canonicalize: {e}") from e
