"""Every request body is read one way (api/body.py; issue 8 finding 14): JSON media type
(415), a streamed size limit (413) and the strict parser of spec §2.1 (400) — on every route
that takes a body, found by walking ``app.routes`` so that a new route cannot forget."""

from __future__ import annotations

import ast
import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from api.body import FormBody, JsonBody
from tests.api.test_api import Env, app_env, assert_problem
from tests.support.ledgers import PUBLIC_URL
from tests.support.scenario import ENCLOSURE, private_key

BODY_METHODS = {"POST", "PUT", "PATCH"}
API = Path(__file__).resolve().parents[2] / "api"


def _body_dependencies(dependant: Dependant) -> list[JsonBody | FormBody]:
    found = [dependant.call] if isinstance(dependant.call, JsonBody | FormBody) else []
    for sub in dependant.dependencies:
        found.extend(_body_dependencies(sub))
    return found


def body_routes(app: FastAPI) -> dict[tuple[str, str], JsonBody]:
    """(method, path) -> the body dependency of every route that takes a JSON body."""
    return {k: v for k, v in all_body_routes(app).items() if isinstance(v, JsonBody)}


def form_routes(app: FastAPI) -> dict[tuple[str, str], FormBody]:
    """(method, path) -> the form of every console route that takes one."""
    return {k: v for k, v in all_body_routes(app).items() if isinstance(v, FormBody)}


def all_body_routes(app: FastAPI) -> dict[tuple[str, str], JsonBody | FormBody]:
    """(method, path) -> the body dependency of every route that takes a body."""
    out = {}
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            assert not set(route.methods or ()) & BODY_METHODS, route.path_format
            continue
        path = str(route.path_format)
        # FastAPI itself parses no body anywhere: its parser lets duplicate member names and
        # NaN through and has no size limit
        assert route.body_field is None, f"{path}: declares a FastAPI body parameter"
        bodies = _body_dependencies(route.dependant)
        methods = set(route.methods or ()) & BODY_METHODS
        if not methods:
            assert not bodies, f"{path}: a body dependency on {route.methods}"
            continue
        assert len(bodies) == 1, f"{path}: reads its body through {bodies}, not one"
        for method in methods:
            out[(method, path)] = bodies[0]
    assert out, "no route takes a body: the walk is broken"
    return out


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """Body handling does not depend on the database: SQLite only; a 1 MiB batch limit."""
    with app_env(f"sqlite:///{tmp_path}/ledger.db", max_batch_bytes=1024 * 1024) as e:
        yield e


def _json(env: Env, path: str, raw: bytes, token: str | None = None, **headers: str) -> Any:
    headers = {"Content-Type": "application/json", **env.headers(token), **headers}
    return env.client.post(path, content=raw, headers=headers)


# ------------------------------------------------------------------ structure


def test_every_route_that_takes_a_body_reads_it_through_one_body_dependency(env: Env) -> None:
    routes = body_routes(env.app)
    assert set(routes) == {
        ("POST", "/v1/events"),
        ("POST", "/v1/events/batch"),
        ("POST", "/v1/certificates"),
        ("POST", "/v1/certificates/verify"),
        ("POST", "/v1/certificates/{cert_id}/revoke"),
        ("POST", "/v1/tokens"),
    }
    # the console's HTML forms (spec §9.10), not in the OpenAPI document
    assert set(form_routes(env.app)) == {
        ("POST", "/console/sign-in"),
        ("POST", "/console/sign-out"),
        ("POST", "/console/certificates"),
    }
    doc = env.get("/openapi.json").json()
    for (method, path), body in routes.items():
        operation = doc["paths"][path][method.lower()]
        request = operation["requestBody"]
        assert request["required"] is True
        schema = _without_none(body.schema)  # the document leaves out null values
        assert request["content"] == {"application/json": {"schema": schema}}, path
        assert {"400", "413", "415"} <= set(operation["responses"]), path
        assert "application/problem+json" in operation["responses"]["415"]["content"]


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def test_no_module_reads_the_request_body_but_the_body_module() -> None:
    """A route that read its ``Request`` itself would skip every check."""
    readers = {"body", "json", "stream", "form", "receive", "_receive"}
    for path in API.rglob("*.py"):
        if path.name in ("body.py", "limits.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            requests = {
                a.arg
                for a in (*fn.args.args, *fn.args.kwonlyargs)
                if a.annotation is not None and "Request" in ast.unparse(a.annotation)
            }
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id in requests
                    and node.attr in readers
                ):
                    raise AssertionError(f"{path}:{node.lineno}: {fn.name} reads the body")
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert "read_body" not in names, f"{path}: reads a body past api/body.py"


# ------------------------------------------------------------------ 415


VALID_BODIES = {
    "/v1/events": lambda env: env.adjust_enclosure().canonical,
    "/v1/events/batch": lambda env: json.dumps({"events": [env.create().envelope]}).encode(),
    "/v1/certificates": lambda env: json.dumps({"lot": ENCLOSURE}).encode(),
    "/v1/certificates/verify": lambda env: json.dumps({"credential": env.certificate}).encode(),
    "/v1/certificates/{cert_id}/revoke": lambda env: b'{"reason": "a test revocation"}',
    "/v1/tokens": lambda env: b'{"party": "alus", "role": "partner"}',
}


def _url(env: Env, path: str) -> str:
    """A route's path with its parameters filled in (a throw-away certificate to revoke)."""
    if "{cert_id}" not in path:
        return path
    spare, _ = env.ledger.issue_certificate(
        ENCLOSURE, issuer_key=private_key("attest"), public_url=PUBLIC_URL
    )
    return path.format(cert_id=spare["id"].rsplit("/", 1)[-1])


REFUSED_TYPES = [
    None,
    "text/plain",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "application/json; charset=latin-1",
    "application/json; charset=utf-8; version=2",
    "application/jsonx",
    "application/ld+json",
    "application/problem+json",
]
ACCEPTED_TYPES = ["application/json", "Application/JSON", "application/json; charset=UTF-8"]


def test_a_wrong_or_missing_content_type_is_415_on_every_body_route(env: Env) -> None:
    tokens_before = len(env.ledger.tokens())
    size = env.ledger.size()
    routes = body_routes(env.app)
    assert {path for _, path in routes} == set(VALID_BODIES)  # a new route needs a body here
    for _, path in sorted(routes):
        raw = VALID_BODIES[path](env)
        url = _url(env, path)
        for media in REFUSED_TYPES:
            headers = env.headers(env.admin)
            if media is not None:
                headers["Content-Type"] = media
            resp = env.client.post(url, content=raw, headers=headers)
            body = assert_problem(resp, 415, "unsupported_media_type")
            assert "application/json" in body["detail"], (path, media)
            assert resp.headers["accept-post"] == "application/json"
        gzipped = _json(env, url, raw, env.admin, **{"Content-Encoding": "gzip"})
        assert_problem(gzipped, 415, "unsupported_media_type")
    # nothing was minted or written
    assert len(env.ledger.tokens()) == tokens_before
    assert env.ledger.size() == size
    # authentication comes first: no token is 401 whatever the body
    resp = env.client.post("/v1/tokens", content=b"x", headers={"Content-Type": "text/plain"})
    assert_problem(resp, 401, "unauthorized")


@pytest.mark.parametrize("media", ACCEPTED_TYPES)
def test_json_with_an_optional_utf8_charset_is_accepted(env: Env, media: str) -> None:
    for path in VALID_BODIES:
        raw = VALID_BODIES[path](env)
        resp = env.client.post(
            _url(env, path), content=raw, headers={"Content-Type": media, **env.headers(env.admin)}
        )
        assert resp.status_code in (200, 201), (path, media, resp.text)


# ------------------------------------------------------------------ strict parsing (400)


def test_a_token_request_with_a_repeated_member_is_400_and_mints_nothing(env: Env) -> None:
    """The finding: ``"role":"partner","role":"admin"`` minted an admin token (last key won)."""
    before = env.ledger.tokens()
    raw = b'{"party":"alus","role":"partner","role":"admin"}'
    body = assert_problem(_json(env, "/v1/tokens", raw, env.admin), 400, "bad_request")
    assert "duplicate" in body["detail"] and "role" in body["detail"]
    assert env.ledger.tokens() == before
    # the same without the repeat mints a partner token
    ok = _json(env, "/v1/tokens", b'{"party":"alus","role":"partner"}', env.admin)
    assert ok.status_code == 201 and ok.json()["role"] == "partner"


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/v1/certificates/verify", b'{"credential": {"x": NaN}}'),
        ("/v1/certificates/verify", b'{"credential": {"x": -Infinity}}'),
        ("/v1/certificates/verify", b'{"credential": {"x": 1e400}}'),
        ("/v1/certificates/verify", b'{"credential": {}, "credential": {}}'),
        ("/v1/certificates/verify", b'{"credential": {"x": "\\ud800"}}'),
        ("/v1/certificates/verify", b'{"credential": {"x": 9007199254740993}}'),
        ("/v1/certificates/verify", b'{"credential": ' + b"[" * 40 + b"]" * 40 + b"}"),
        ("/v1/certificates/verify", b'{"credential": {}} trailing'),
        ("/v1/certificates/verify", b'\xef\xbb\xbf{"credential": {}}'),
        ("/v1/certificates", b'{"lot": "' + ENCLOSURE.encode() + b'", "lot": "X"}'),
        ("/v1/certificates", b'{"lot": "' + ENCLOSURE.encode() + b'", "as_of": NaN}'),
        ("/v1/tokens", b'{"party": "alus", "role": "partner", "x": NaN}'),
        ("/v1/tokens", b'{"party": "al\\udc00us", "role": "partner"}'),
        ("/v1/tokens", b"[]"),
    ],
)
def test_non_strict_json_is_400_on_every_json_route(env: Env, path: str, raw: bytes) -> None:
    tokens, size = len(env.ledger.tokens()), env.ledger.size()
    body = assert_problem(_json(env, path, raw, env.admin), 400, "bad_request")
    assert body["detail"]
    assert (len(env.ledger.tokens()), env.ledger.size()) == (tokens, size)


def test_a_batch_with_a_repeated_member_is_invalid_event(env: Env) -> None:
    raw = b'{"events": [], "events": []}'
    assert_problem(_json(env, "/v1/events/batch", raw, env.admin), 400, "invalid_event")


def test_a_credential_may_carry_fractions(env: Env) -> None:
    """Credentials may hold JSON fractions (spec §2.1 rule 6): parsed, then reported invalid."""
    forged = {**env.certificate, "extra": 0.5}
    resp = _json(env, "/v1/certificates/verify", json.dumps({"credential": forged}).encode())
    assert resp.status_code == 200, resp.text
    assert resp.json()["valid"] is False


# ------------------------------------------------------------------ 413, streamed


async def _asgi_post(
    app: FastAPI, path: str, headers: dict[str, str], chunks: Iterator[bytes]
) -> tuple[int, dict[str, Any], int]:
    """POST through the ASGI interface, the body arriving chunk by chunk as from a socket:
    (status, JSON answer, bytes the app pulled from the client)."""
    pulled = 0
    answer: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        answer.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    status = next(m["status"] for m in answer if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in answer if m["type"] == "http.response.body")
    return status, json.loads(body), pulled


CHUNK = 1024 * 1024
SIXTY_MB = 60 * CHUNK


def _sixty_mb() -> Iterator[bytes]:
    yield b'{"credential": {"pad": "'
    for _ in range(SIXTY_MB // CHUNK):
        yield b"x" * CHUNK


def test_60_mb_to_certificates_verify_is_413_at_once(env: Env) -> None:
    """The finding: 60 MB were read whole (server memory 140 -> 337 MB). A declared length over
    the limit is refused before reading; a chunked body as soon as it passes the limit."""
    limit = env.app.state.ltl.settings.max_batch_bytes
    headers = {"Content-Type": "application/json", "Content-Length": str(SIXTY_MB + 24)}
    start = time.monotonic()
    status, body, pulled = asyncio.run(
        _asgi_post(env.app, "/v1/certificates/verify", headers, _sixty_mb())
    )
    assert (status, body["code"], pulled) == (413, "too_large", 0)
    assert "ledger certificate verify" in body["detail"]
    chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    status, body, pulled = asyncio.run(
        _asgi_post(env.app, "/v1/certificates/verify", chunked, _sixty_mb())
    )
    assert (status, body["code"]) == (413, "too_large")
    assert limit < pulled <= limit + CHUNK + 24  # stopped at the limit, not at 60 MB
    assert time.monotonic() - start < 10
    # and through a client that sends it all, still a quick 413
    start = time.monotonic()
    resp = _json(env, "/v1/certificates/verify", b"".join(_sixty_mb()))
    assert_problem(resp, 413, "too_large")
    assert time.monotonic() - start < 10


def test_every_body_route_refuses_an_oversized_body_without_reading_it_all(env: Env) -> None:
    state = env.app.state.ltl
    for (_, path), dependency in sorted(body_routes(env.app).items()):
        limit = dependency.max_bytes(state)
        chunk = max(1, limit // 8)
        auth = env.headers(env.admin)
        declared = {"Content-Type": "application/json", "Content-Length": str(limit + 1), **auth}
        gen = (b"x" * chunk for _ in range(1000))
        status, body, pulled = asyncio.run(_asgi_post(env.app, path, declared, gen))
        assert (status, body["code"], pulled) == (413, "too_large", 0), path
        chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked", **auth}
        gen = (b"x" * chunk for _ in range(1000))
        status, body, pulled = asyncio.run(_asgi_post(env.app, path, chunked, gen))
        assert (status, body["code"]) == (413, "too_large"), path
        assert limit < pulled <= limit + chunk, path


# ------------------------------------------------------------------ the console's forms


def _page_problem(resp: Any, status: int, code: str) -> None:
    """A console refusal: an HTML page naming its problem code."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("text/html")
    assert f'<code id="problem-code">{code}</code>' in resp.text, resp.text


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("content_type", "raw", "status", "code"),
    [
        (None, b"csrf=x&token=y", 415, "unsupported_media_type"),
        ("application/json", b'{"csrf": "x", "token": "y"}', 415, "unsupported_media_type"),
        ("multipart/form-data; boundary=x", b"--x--", 415, "unsupported_media_type"),
        (FORM + "; charset=latin-1", b"csrf=x&token=y", 415, "unsupported_media_type"),
        (FORM, b"csrf=x&token=y&token=z", 400, "bad_request"),
        (FORM, b"csrf=x&token=y&admin=1", 400, "bad_request"),
        (FORM, b"csrf=x", 400, "bad_request"),
        (FORM, b"csrf=x&token=%ff", 400, "bad_request"),
        (FORM, b"csrf=x&token=" + b"a" * 5000, 413, "too_large"),
    ],
)
def test_a_console_form_is_read_strictly(
    env: Env, content_type: str | None, raw: bytes, status: int, code: str
) -> None:
    """The sign-in form through api/body.py's FormBody: its media type, each field once,
    nothing else, UTF-8, at most 4 KiB — refused before any token is looked up."""
    headers = {} if content_type is None else {"Content-Type": content_type}
    resp = env.client.post("/console/sign-in", content=raw, headers=headers)
    _page_problem(resp, status, code)


def test_a_gzipped_console_form_is_415(env: Env) -> None:
    headers = {"Content-Type": FORM, "Content-Encoding": "gzip"}
    resp = env.client.post("/console/sign-out", content=b"csrf=x", headers=headers)
    _page_problem(resp, 415, "unsupported_media_type")
