"""Malformed and hostile events: always a 4xx problem+json with a ``code``, never a state change.

Hypothesis builds the input three ways and posts each to ``POST /v1/events`` and (alone, or
wrapped in a one-event batch) to ``POST /v1/events/batch`` of an app serving the GUIDE scenario
from SQLite, with an admin token (so ``check_actor`` never decides; the ledger does):

- random JSON documents and random bytes (floats, NaN, huge integers, lone surrogates, ...);
- a valid signed event's bytes, garbled (truncated, a byte replaced, bytes inserted or cut);
- a valid signed event with ONE thing wrong: a field of the wrong type, a huge string, a float or
  NaN, a duplicate key in the raw bytes, nesting deeper than 32, an extra member in the envelope
  or the body, a bad base64 signature, a signature by another key, a wrong kid, ``prev`` naming
  a stale head, a time in the future or before the lot's head, a negative or exponent mass, an
  unknown event type, a lone surrogate (``\\ud800`` escapes), invalid UTF-8, an id already used.
  Where the change leaves valid JSON the event is RE-SIGNED by its actor, so the ledger has to
  refuse it for the change itself, not for a broken signature; those cases also check the code.

Every answer must be 4xx ``application/problem+json`` with a ``code`` (or, for a batch that is
itself well-formed, a 200 whose every result is a 4xx problem), and the ledger must be unchanged:
same log size, checkpoint root, and rows of every derived-state table (lots, parties, keys,
credits, custody, tree nodes, checkpoints, events). The last test shows that the unmutated base
events are accepted afterwards (so each mutation is what got refused, and the refusals left no
stale cache behind) and that ``fsck`` is clean.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from ledger.cli.scenario import BILLET, RESIDUE, US_SITE
from ledger.core import canonical
from ledger.core.events import SIGNING_PREFIX, SignedEvent
from ledger.core.keys import b64url_encode, key_object
from ledger.core.values import format_time, parse_time
from ledger.errors import LedgerError
from ledger.service import Ledger
from ledger.service.settings import Settings
from ledger.service.tokens import create_token
from tests.support.ledgers import NOW, ORIGIN, dump, open_ledger
from tests.support.scenario import KEYS, private_key, scenario_chain

_TABLES = (
    "events",
    "event_lots",
    "party_events",
    "custody",
    "nodes",
    "checkpoints",
    "parties",
    "keys",
    "lots",
    "credits",
)
_SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_INVALID = frozenset({"invalid_event"})
_INVALID_OR_LARGE = frozenset({"invalid_event", "too_large"})


class World:
    """The app under test and what the strategies need (short repr: Hypothesis prints it)."""

    def __init__(
        self,
        client: TestClient,
        headers: dict[str, str],
        ledger: Ledger,
        bases: tuple[SignedEvent, ...],
    ) -> None:
        self.client = client
        self.headers = headers
        self.ledger = ledger
        #: valid signed events, each acceptable now (none is posted until the last test)
        self.bases = bases
        #: lot -> hashes of its chain before its head
        self.old_heads = {
            lot: tuple(ev.hash for _, ev in ledger.chain(lot))[:-1]
            for ev in bases
            for lot in ev.envelope["prev"]
        }
        #: ids of accepted events
        self.used_ids = tuple(ev.envelope["id"] for _, ev in ledger.events(range(ledger.size())))

    def __repr__(self) -> str:
        return "World()"


def _world_ledger(url: str) -> tuple[Ledger, tuple[SignedEvent, ...]]:
    """The GUIDE scenario, and base events that would be accepted next (independent lots)."""
    chain = scenario_chain()
    ledger = open_ledger(url)
    for ev in chain.events:
        ledger.append(ev)
    bases = (
        chain.make(
            "bwm",
            "lot.create",
            {
                "lot": "HOSTILE-NEW-1",
                "material": "aluminium scrap",
                "mass_kg": "100",
                "source": "post_consumer",
                "site": dict(US_SITE),
            },
        ),
        chain.make("bwm", "lot.adjust", {"lot": RESIDUE, "mass_kg": "4000", "reason": "dried"}),
        chain.make(
            "alus",
            "lot.ship",
            {
                "lot": BILLET,
                "to": "packco",
                "mass_kg": "3990",
                "documents": [{"kind": "invoice", "ref": "INV-7"}],
            },
        ),
        chain.make("bwm", "key.add", {"party": "bwm", "key": key_object(private_key("spare"))}),
    )
    return ledger, bases


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('hostile')) / 'ledger.db'}"
    ledger, bases = _world_ledger(url)
    token = create_token(ledger.store, "operator", "admin")
    # generous write limits: a 429 must never stand in for the refusal under test
    settings_ = Settings(database_url=url, origin=ORIGIN, write_rate=1e6, write_burst=10**6)
    app = create_app(settings_, ledger=ledger)
    with TestClient(app) as client:
        yield World(client, {"Authorization": f"Bearer {token}"}, ledger, bases)
    ledger.close()


# ---------------------------------------------------------------------------- checking


def _snapshot(ledger: Ledger) -> tuple[Any, ...]:
    cp = ledger.checkpoint()
    rows = {t: sorted(map(repr, dump(ledger.store, t))) for t in _TABLES}
    return ledger.size(), cp.size, cp.root, rows


def _check_problem(problem: Any, status: int, expected: frozenset[str] | None) -> None:
    assert isinstance(problem, dict), problem
    assert isinstance(problem.get("code"), str) and problem["code"], problem
    assert problem["status"] == status, problem
    assert isinstance(problem.get("detail"), str) and problem["detail"], problem
    assert problem["type"].endswith("/" + problem["code"]), problem
    if expected is not None:
        assert problem["code"] in expected, problem


def _check_refused(r: httpx.Response, expected: frozenset[str] | None) -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    _check_problem(r.json(), r.status_code, expected)


def _check_batch_refused(r: httpx.Response, expected: frozenset[str] | None) -> None:
    """The whole batch refused, or a well-formed batch whose every event was refused."""
    if r.status_code != 200:
        _check_refused(r, expected)
        return
    results = r.json()["results"]
    assert results, "a batch of hostile input was accepted as empty"
    for item in results:
        assert 400 <= item["status"] < 500 and item["receipt"] is None, item
        _check_problem(item["problem"], item["status"], expected)


def _post(world: World, path: str, raw: bytes) -> httpx.Response:
    headers = {**world.headers, "Content-Type": "application/json"}
    response: httpx.Response = world.client.post(path, content=raw, headers=headers)
    return response


def _assert_hostile(world: World, raw: bytes, expected: frozenset[str] | None) -> None:
    """Post ``raw`` as an event and as a one-event batch: refused, nothing changed."""
    before = _snapshot(world.ledger)
    _check_refused(_post(world, "/v1/events", raw), expected)
    if raw.strip():
        _check_batch_refused(
            _post(world, "/v1/events/batch", b'{"events":[' + raw + b"]}"), expected
        )
    assert _snapshot(world.ledger) == before


# ---------------------------------------------------------------------------- building events

_HOLE = "\x00hole\x00"


def _encode(env: Any) -> bytes:
    return json.dumps(env, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )


def _with_raw(env: dict[str, Any], path: tuple[str, ...], snippet: str) -> bytes:
    """The envelope's bytes with the value at ``path`` replaced by a raw JSON text."""
    env = _set(env, path, _HOLE)
    return _encode(env).replace(
        json.dumps(_HOLE).encode(), snippet.encode("utf-8", "surrogatepass")
    )


def _set(env: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``env`` with ``path`` set to ``value``."""
    out: dict[str, Any] = json.loads(json.dumps(env))
    node: Any = out
    for key in path[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(path[-1])] = value
    else:
        node[path[-1]] = value
    return out


def _get(env: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = env
    for key in path:
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def _leaves(value: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Paths of every member and item, containers included (the root excluded)."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        path = (*prefix, str(key))
        yield path
        if isinstance(item, dict | list) and item:
            yield from _leaves(item, path)


def _key_of(env: dict[str, Any]) -> Ed25519PrivateKey:
    return KEYS[env["actor"]]


def _resign(env: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """``env`` signed again by ``key``; unchanged if it has no JCS form."""
    unsigned = {k: v for k, v in env.items() if k != "sig"}
    try:
        message = SIGNING_PREFIX + canonical.jcs(unsigned)
    except LedgerError:
        return env
    return {**env, "sig": b64url_encode(key.sign(message))}


_safe_ints = st.integers(-(2**53) + 1, 2**53 - 1)
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | _safe_ints
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


class Hostile(NamedTuple):
    why: str
    raw: bytes
    expected: frozenset[str] | None


def _env_of(world: World, draw: st.DrawFn, *, with_prev: bool = False) -> dict[str, Any]:
    bases = [ev for ev in world.bases if ev.envelope["prev"] or not with_prev]
    ev = draw(st.sampled_from(bases))
    env: dict[str, Any] = json.loads(ev.canonical)
    return env


def _signed(
    env: dict[str, Any], key: Ed25519PrivateKey, why: str, expected: frozenset[str] | None
) -> Hostile:
    return Hostile(why, _encode(_resign(env, key)), expected)


@st.composite
def _wrong_type(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    key = _key_of(env)
    path = draw(st.sampled_from(list(_leaves(env))))
    old = _get(env, path)
    value = draw(_json_values.filter(lambda v: type(v) is not type(old)))
    env = _set(env, path, value)
    if path == ("sig",):
        return Hostile(f"sig is {value!r}", _encode(env), _INVALID)
    return _signed(env, key, f"{'.'.join(path)} is {value!r}", _INVALID)


@st.composite
def _huge_string(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    key = _key_of(env)
    paths = [p for p in _leaves(env) if isinstance(_get(env, p), str)]
    path = draw(st.sampled_from(paths))
    size = draw(st.integers(4097, 70_000))
    env = _set(env, path, draw(st.sampled_from("A0é漢")) * size)
    return _signed(env, key, f"{'.'.join(path)} has {size} characters", _INVALID_OR_LARGE)


_NOT_JSON_OR_NOT_EVENT_NUMBERS = (
    "1.0",
    "-0.0",
    "0.5",
    "1e3",
    "1E+2",
    "20000.0",
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    "9007199254740992",
    "-9007199254740993",
    "123456789012345678901234567890",
    "0.0000001",
)


@st.composite
def _float_like(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    path = draw(st.sampled_from(list(_leaves(env))))
    number = draw(st.sampled_from(_NOT_JSON_OR_NOT_EVENT_NUMBERS))
    return Hostile(f"{'.'.join(path)} = {number}", _with_raw(env, path, number), _INVALID)


@st.composite
def _duplicate_key(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    level = draw(st.sampled_from(["envelope", "body"]))
    obj = env if level == "envelope" else env["body"]
    name = draw(st.sampled_from(sorted(obj)))
    value = obj[name] if draw(st.booleans()) else draw(_json_values)
    member = json.dumps({name: value}, separators=(",", ":"))[1:-1]
    raw = _encode(env)
    anchor = b"{" if level == "envelope" else b'"body":{'
    i = raw.index(anchor) + len(anchor)
    raw = raw[:i] + member.encode() + b"," + raw[i:]
    return Hostile(f"duplicate {level} key {name!r}", raw, _INVALID)


@st.composite
def _deep_nesting(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    path = draw(st.sampled_from(list(_leaves(env))))
    depth = draw(st.integers(33, 5000))
    snippet = (
        "[" * depth + "]" * depth if draw(st.booleans()) else '{"a":' * depth + "1" + "}" * depth
    )
    return Hostile(f"{'.'.join(path)} nested {depth} deep", _with_raw(env, path, snippet), _INVALID)


@st.composite
def _extra_member(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    key = _key_of(env)
    objects = [()] + [p for p in _leaves(env) if isinstance(_get(env, p), dict)]
    where = draw(st.sampled_from(objects))
    name = "x-" + draw(st.text(max_size=6))
    target = dict(_get(env, where)) if where else dict(env)
    target[name] = draw(_json_values)
    env = _set(env, where, target) if where else target
    return _signed(env, key, f"extra member {name!r} in {'.'.join(where) or 'envelope'}", _INVALID)


@st.composite
def _drop_member(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    key = _key_of(env)
    name = draw(st.sampled_from(sorted(env)))
    env = {k: v for k, v in env.items() if k != name}
    if name == "sig":
        return Hostile("no sig", _encode(env), _INVALID)
    return _signed(env, key, f"no {name}", _INVALID)


@st.composite
def _bad_sig(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    key = _key_of(env)
    sig: str = env["sig"]
    raw_sig = base64.urlsafe_b64decode(sig + "==")
    choice = draw(st.integers(0, 6))
    if choice == 0:  # anything at all
        bad = draw(st.text(max_size=100).filter(lambda s: s != sig))
        expected = frozenset({"invalid_event", "bad_signature"})
    elif choice == 1:  # standard alphabet with padding
        bad = base64.b64encode(raw_sig).decode()
        expected = _INVALID
    elif choice == 2:  # padded base64url
        bad = sig + "=="
        expected = _INVALID
    elif choice == 3:  # non-canonical last character (its unused low bits set)
        bad = sig[:-1] + draw(st.sampled_from("BCDRSThixyz"))
        expected = _INVALID
    elif choice == 4:  # too short or too long
        cut = draw(st.integers(1, 85))
        bad = sig[:-cut] if draw(st.booleans()) else sig + "A" * cut
        expected = _INVALID
    elif choice == 5:  # well-formed, but 64 other bytes
        other = draw(st.binary(min_size=64, max_size=64).filter(lambda b: b != raw_sig))
        bad = b64url_encode(other)
        expected = frozenset({"bad_signature"})
    else:  # the right key over the wrong message (no domain prefix)
        unsigned = {k: v for k, v in env.items() if k != "sig"}
        bad = b64url_encode(key.sign(canonical.jcs(unsigned)))
        expected = frozenset({"bad_signature"})
    return Hostile(f"sig {bad[:40]!r}", _encode({**env, "sig": bad}), expected)


@st.composite
def _other_signer(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    key = _key_of(env)
    signer = draw(st.sampled_from([p for p in (*KEYS, "stranger") if p != env["actor"]]))
    key = KEYS.get(signer) or private_key(signer)
    return Hostile(
        f"{env['actor']}'s event signed by {signer}",
        _encode(_resign(env, key)),
        frozenset({"bad_signature"}),
    )


@st.composite
def _wrong_kid(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    key = _key_of(env)
    choice = draw(st.integers(0, 3))
    if choice == 0:  # a kid nobody registered, signed by the actor
        kid = draw(st.from_regex(r"[0-9a-f]{16}", fullmatch=True).filter(lambda k: k != env["kid"]))
        known = {key_object(k)["kid"] for k in KEYS.values()} | {
            key_object(private_key("bwm-2"))["kid"]
        }
        if kid in known:
            kid = "0" * 16
        return _signed({**env, "kid": kid}, key, f"unknown kid {kid}", frozenset({"unknown_key"}))
    if choice == 1:  # another party's kid, signed with that party's key
        other = draw(st.sampled_from([p for p in KEYS if p != env["actor"]]))
        env = {**env, "kid": key_object(KEYS[other])["kid"]}
        return Hostile(
            f"{env['actor']}'s event under {other}'s kid",
            _encode(_resign(env, KEYS[other])),
            frozenset({"unknown_key", "bad_signature", "forbidden"}),
        )
    if choice == 2:  # bwm's revoked key, signed with it
        env = {**env, "actor": "bwm", "kid": key_object(private_key("bwm-2"))["kid"]}
        return Hostile(
            "signed with the revoked key",
            _encode(_resign(env, private_key("bwm-2"))),
            frozenset({"key_revoked", "not_custodian", "forbidden"}),
        )
    return _signed({**env, "kid": env["kid"].upper()}, key, "upper-case kid", _INVALID)


@st.composite
def _stale_prev(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw, with_prev=True)
    key = _key_of(env)
    (lot,) = env["prev"]
    choice = draw(st.integers(0, 3))
    if choice == 0 and world.old_heads[lot]:
        prev = {lot: draw(st.sampled_from(world.old_heads[lot]))}
        why, expected = "prev is an older head", frozenset({"stale_head"})
    elif choice <= 1:
        head = draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True))
        prev = {lot: head}
        why, expected = "prev is a made-up head", frozenset({"stale_head"})
    elif choice == 2:
        prev = {}
        why, expected = "prev is missing the lot", frozenset({"stale_head"})
    else:
        prev = {**env["prev"], "BWM-BM-2025-0001": env["prev"][lot]}
        why, expected = "prev names a lot the event does not touch", _INVALID
    return _signed({**env, "prev": prev}, key, why, expected)


_BAD_TIMES = (
    "2025-06-02T08:00:00+00:00",
    "2025-06-02 08:00:00Z",
    "2025-06-02T08:00:00z",
    "2025-06-02T08:00:00",
    "2025-13-01T00:00:00Z",
    "2025-02-30T00:00:00Z",
    "2025-06-02T24:00:00Z",
    "2025-06-02T08:00:60Z",
    "2025-06-02T08:00:00.1234567Z",
    "25-06-02T08:00:00Z",
    "2025-06-02",
    "",
    "now",
)


@st.composite
def _bad_time(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    key = _key_of(env)
    choice = draw(st.integers(0, 2))
    if choice == 0:
        ahead = draw(st.integers(301, 10**9))
        time = format_time(NOW + timedelta(seconds=ahead))
        return _signed({**env, "time": time}, key, f"{ahead} s ahead", frozenset({"bad_time"}))
    if choice == 1 and env["prev"]:
        (lot,) = env["prev"]
        back = draw(st.integers(1, 10**8))
        time = format_time(parse_time(world.ledger.lot(lot).time) - timedelta(seconds=back))
        return _signed(
            {**env, "time": time}, key, f"{back} s before the head", frozenset({"bad_time"})
        )
    time = draw(st.sampled_from(_BAD_TIMES))
    return _signed({**env, "time": time}, key, f"time {time!r}", _INVALID)


_BAD_MASSES = (
    "-5",
    "-0",
    "1e3",
    "1E3",
    "1e-3",
    "1.5e2",
    "+5",
    "05",
    "5.",
    ".5",
    "5.1234567",
    "1000000000000",
    "0x10",
    " 5",
    "5 ",
    "5,0",
    "1_000",
    "٣",
    "５",
    "−5",
    "NaN",
    "Infinity",
    "",
)


@st.composite
def _bad_mass(draw: st.DrawFn, world: World) -> Hostile:
    with_mass = [ev for ev in world.bases if "mass_kg" in ev.envelope["body"]]
    env: dict[str, Any] = json.loads(draw(st.sampled_from(with_mass)).canonical)
    key = _key_of(env)
    if draw(st.booleans()):
        mass = draw(st.sampled_from(_BAD_MASSES))
        env = _set(env, ("body", "mass_kg"), mass)
        return _signed(env, key, f"mass_kg {mass!r}", _INVALID)
    number = draw(st.sampled_from(["-5", "100", "1e3", "-1E-3", "100.0", "0"]))
    return Hostile(f"mass_kg {number}", _with_raw(env, ("body", "mass_kg"), number), _INVALID)


@st.composite
def _bad_type(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    key = _key_of(env)
    kind = draw(
        st.sampled_from(["lot.destroy", "LOT.CREATE", "lot.create ", "lot..create", "", "lot"])
        | st.text(max_size=12)
    )
    if kind == env["type"]:
        kind = "lot.destroy"
    return _signed({**env, "type": kind}, key, f"type {kind!r}", _INVALID)


@st.composite
def _bad_id(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    key = _key_of(env)
    ident: str = env["id"]
    choice = draw(st.integers(0, 1))
    if choice == 0:
        ident = draw(st.sampled_from([ident.upper(), "{" + ident + "}", ident.replace("-", "")]))
        return _signed({**env, "id": ident}, key, f"id {ident!r}", _INVALID)
    used = draw(st.sampled_from(world.used_ids))
    return _signed({**env, "id": used}, key, "an id already used", frozenset({"duplicate_id"}))


_LONE = ("\\ud800", "\\udfff", "\\udc00\\ud800", "a\\ud83d", "\\ud83d\\u0041")


@st.composite
def _lone_surrogate(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    escape = draw(st.sampled_from(_LONE))
    if draw(st.booleans()):  # in a string value
        paths = [p for p in _leaves(env) if isinstance(_get(env, p), str)]
        path = draw(st.sampled_from(paths))
        text = json.dumps(_get(env, path))[:-1] + escape + '"'
        return Hostile(f"{escape} in {'.'.join(path)}", _with_raw(env, path, text), _INVALID)
    raw = _encode(env)  # in a key of the body
    i = raw.index(b'"body":{') + len(b'"body":{')
    raw = raw[:i] + b'"' + escape.encode() + b'":1,' + raw[i:]
    return Hostile(f"{escape} in a key", raw, _INVALID)


_BAD_UTF8 = (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80", b"\x80")


@st.composite
def _bad_utf8(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    raw = _encode(env)
    if draw(st.booleans()):
        return Hostile("UTF-8 BOM", b"\xef\xbb\xbf" + raw, _INVALID)
    bad = draw(st.sampled_from(_BAD_UTF8))
    i = raw.index(b'"actor":"') + len(b'"actor":"')  # inside a string
    return Hostile(f"bytes {bad!r} in actor", raw[:i] + bad + raw[i:], _INVALID)


@st.composite
def _oversized(draw: st.DrawFn, world: World) -> Hostile:
    """Well-formed and signed, every member within its limits, but over 64 KiB in all."""
    ship = next(ev for ev in world.bases if ev.envelope["type"] == "lot.ship")
    env: dict[str, Any] = json.loads(ship.canonical)
    key = _key_of(env)
    count = draw(st.integers(17, 40))
    docs = [{"kind": "photo", "ref": f"{i:04d}" + "x" * 4000} for i in range(count)]
    env = _set(env, ("body", "documents"), docs)
    return _signed(env, key, f"{count} documents of 4 KB", _INVALID_OR_LARGE)


@st.composite
def _actor(draw: st.DrawFn, world: World) -> Hostile:
    env = _env_of(world, draw)
    key = _key_of(env)
    actor = draw(st.sampled_from([p for p in (*KEYS, "nobody") if p != env["actor"]]))
    env = _resign({**env, "actor": actor}, key)
    expected = frozenset({"unknown_key", "bad_signature", "unknown_party", "forbidden"})
    return Hostile(f"actor {actor} with {env['kid']}", _encode(env), expected)


MUTATIONS = (
    _wrong_type,
    _huge_string,
    _float_like,
    _duplicate_key,
    _deep_nesting,
    _extra_member,
    _drop_member,
    _bad_sig,
    _other_signer,
    _wrong_kid,
    _stale_prev,
    _bad_time,
    _bad_mass,
    _bad_type,
    _bad_id,
    _lone_surrogate,
    _bad_utf8,
    _oversized,
    _actor,
)


# ---------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.__name__.strip("_"))
@settings(_SETTINGS, max_examples=8)
@given(data=st.data())
def test_mutated_events_are_refused(world: World, mutation: Any, data: st.DataObject) -> None:
    hostile = data.draw(mutation(world), label="hostile")
    _assert_hostile(world, hostile.raw, hostile.expected)


_any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
_wild_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_any_text, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def _wild_bytes(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 3)) == 0:
        return draw(st.binary(max_size=200))
    value = draw(_wild_json)
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))  # NaN/Infinity come out as such
    return text.encode("utf-8", "surrogatepass")


@settings(_SETTINGS, max_examples=40)
@given(raw=_wild_bytes())
def test_random_documents_are_refused(world: World, raw: bytes) -> None:
    before = _snapshot(world.ledger)
    _check_refused(_post(world, "/v1/events", raw), None)
    _check_refused(_post(world, "/v1/events/batch", raw), None)  # as the whole batch
    assert _snapshot(world.ledger) == before


@settings(_SETTINGS, max_examples=20)
@given(items=st.lists(_wild_json, min_size=1, max_size=5))
def test_batches_of_random_values_are_refused(world: World, items: list[Any]) -> None:
    before = _snapshot(world.ledger)
    raw = json.dumps({"events": items}).encode("utf-8", "surrogatepass")
    r = _post(world, "/v1/events/batch", raw)
    _check_batch_refused(r, None)
    if r.status_code == 200:
        assert len(r.json()["results"]) == len(items)
    assert _snapshot(world.ledger) == before


@st.composite
def _garbled(draw: st.DrawFn, world: World) -> bytes:
    raw = draw(st.sampled_from(world.bases)).canonical
    op = draw(st.integers(0, 4))
    i = draw(st.integers(0, len(raw) - 1))
    if op == 0:  # truncated
        return raw[:i]
    if op == 1:  # one byte replaced
        b = draw(st.integers(0, 255).filter(lambda b: b != raw[i]))
        return raw[:i] + bytes([b]) + raw[i + 1 :]
    if op == 2:  # bytes inserted (not only whitespace: that would be the same JSON value)
        junk = draw(st.binary(min_size=1, max_size=8).filter(lambda b: b.strip(b" \t\r\n")))
        return raw[:i] + junk + raw[i:]
    if op == 3:  # a range cut out
        j = draw(st.integers(i + 1, len(raw)))
        return raw[:i] + raw[j:]
    return raw + draw(st.sampled_from([b"x", b"{}", raw, b"\x00", b"]"]))  # trailing data


@settings(_SETTINGS, max_examples=40)
@given(data=st.data())
def test_garbled_bytes_are_refused(world: World, data: st.DataObject) -> None:
    raw = data.draw(_garbled(world), label="raw")
    _assert_hostile(world, raw, None)


def test_the_base_events_are_accepted_afterwards(world: World) -> None:
    """Run last: the unmutated events are valid, the hostile run left no trace, fsck is clean."""
    size = world.ledger.size()
    for ev in world.bases:
        r = _post(world, "/v1/events", ev.canonical)
        assert r.status_code == 201, r.text
    assert world.ledger.size() == size + len(world.bases)
    assert world.ledger.fsck().ok
