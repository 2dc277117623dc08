"""The SDK on its own (no server): typed answers, and every failure one of its own exceptions.

A mock transport plays the server, so each case is exactly the answer under test: a problem, an
error page from a proxy, a body that is not the documented model, a dropped connection.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from ledger.client import ApiError, ClientError, LedgerClient, NetworkError
from ledger.client._http import lot_path
from ledger.client.models import LotOut
from ledger.errors import LedgerError
from tests.support.scenario import KEYS, SCRAP, scenario_chain

Handler = Callable[[httpx.Request], httpx.Response]

LOT = scenario_chain().state.lots[SCRAP]
LOT_JSON = {
    "lot": LOT.lot,
    "material": LOT.material,
    "mass_kg": "19500",
    "custodian": "alus",
    "status": "held",
    "head": "ab" * 32,
    "created_seq": 7,
    "time": "2025-06-01T09:00:00Z",
    "composition": {"Al": "0.95"},
    "source": "post_consumer",
    "site": {"country": "US", "name": "Bartlesville"},
    "model": "controlled_blending",
    "transit_to": None,
    "transit_ship": None,
    "parents": [],
    "shares": {
        "post_consumer": "1.000000",
        "pre_consumer_battery": "0.000000",
        "pre_consumer_other": "0.000000",
        "virgin": "0.000000",
        "recycled": "1.000000",
    },
    "element_shares": None,
}


def _client(handler: Handler, **kw: object) -> LedgerClient:
    return LedgerClient(
        "http://ledger.test", "ltl_token", transport=httpx.MockTransport(handler), **kw
    )  # type: ignore[arg-type]


def test_reads_are_typed_models() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=LOT_JSON)

    with _client(handler) as client:
        lot = client.lot("urn:epc:class:lgtin:8801234.012345.B77#1")
    assert isinstance(lot, LotOut) and lot.custodian == "alus" and lot.shares.recycled == "1.000000"
    assert seen[0].headers["authorization"] == "Bearer ltl_token"
    assert seen[0].url.raw_path == b"/v1/lots/urn:epc:class:lgtin:8801234.012345.B77%231"


def test_a_problem_is_an_api_error_with_its_code() -> None:
    problem = {
        "type": "https://ltl.example/problems/in_transit",
        "title": "In transit",
        "status": 409,
        "detail": "lot X is in transit to alus: wait until it is received",
        "code": "in_transit",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            409, json=problem, headers={"content-type": "application/problem+json"}
        )

    with _client(handler) as client, pytest.raises(ApiError) as e:
        client.lot("X")
    assert (e.value.status, e.value.code, e.value.detail) == (409, "in_transit", problem["detail"])
    assert e.value.problem == problem
    assert str(e.value) == f"409 in_transit: {problem['detail']}"
    assert isinstance(e.value, ClientError) and isinstance(e.value, LedgerError)


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (502, b"<html>Bad Gateway</html>", "http_error"),  # a proxy's error page
        (500, b'["not", "a", "problem"]', "http_error"),
        (200, b"<html>login</html>", "invalid_response"),  # a captive portal, not a ledger
        (200, b'{"lot": "X"}', "invalid_response"),  # not a LotOut
    ],
    ids=["proxy-page", "json-not-problem", "html-200", "wrong-shape"],
)
def test_an_answer_that_is_not_the_documented_one_is_an_api_error(
    status: int, body: bytes, code: str
) -> None:
    answer = httpx.Response(status, content=body)
    with _client(lambda r: answer) as client, pytest.raises(ApiError) as e:
        client.lot("X")
    assert (e.value.status, e.value.code) == (status, code)
    assert e.value.detail


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("cut")],
    ids=["refused", "timeout", "cut-off"],
)
def test_no_answer_is_a_network_error(error: httpx.HTTPError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with _client(handler) as client, pytest.raises(NetworkError) as e:
        client.checkpoint()
    assert e.value.code == "network_error" and "http://ledger.test" in e.value.message
    assert isinstance(e.value.__cause__, httpx.HTTPError)


def test_a_real_refused_connection_is_a_network_error() -> None:
    with LedgerClient("http://127.0.0.1:9", timeout=2) as client, pytest.raises(NetworkError):
        client.health()


def test_local_refusals_are_client_errors_and_nothing_is_sent() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(404, json={"code": "not_found", "detail": "no lot"})

    with _client(handler) as reader, pytest.raises(ClientError, match="no party key"):
        reader.adjust("L", mass_kg="1", reason="x")
    assert sent == []
    with _client(handler, party="bwm", key=KEYS["bwm"]) as bwm:
        with pytest.raises(ClientError) as bad:
            bwm.create_lot(
                "L", material="Al", mass_kg="ten", source="post_consumer", site={"country": "US"}
            )
        assert bad.value.code == "invalid_event" and "mass" in bad.value.message
        with pytest.raises(ClientError) as malformed:
            bwm.submit("lot.ship", {"to": "alus"})  # no lot: cannot even read its head
        assert malformed.value.code == "invalid_event"
    assert sent == []


@pytest.mark.parametrize(
    ("lot", "path"),
    [
        ("BWM-AL-2025-0001", "BWM-AL-2025-0001"),
        ("urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2017"),
        ("A/B#C", "A/B%23C"),
        ("X/events", "X%2Fevents"),
        ("X/recycled-content", "X%2Frecycled-content"),
        ("X/./..", "X/%2E/%2E%2E"),
    ],
)
def test_lot_ids_in_paths(lot: str, path: str) -> None:
    assert lot_path(lot) == path


def test_a_bad_url_is_a_client_error() -> None:
    with pytest.raises(ClientError, match="not a ledger URL"):
        LedgerClient("http://[::1")


def test_malformed_success_bodies_are_api_errors() -> None:
    bodies = {
        "/v1/events": httpx.Response(201, json={"seq": 1}),  # a receipt without hash and lots
        "/v1/certificates": httpx.Response(201, json=["not", "a", "credential"]),
    }
    with _client(lambda r: bodies[r.url.path], party="bwm", key=KEYS["bwm"]) as bwm:
        event = bwm.sign("lot.create", _LOT_BODY, prev={})
        with pytest.raises(ApiError) as receipt:
            bwm.post(event)
        assert receipt.value.code == "invalid_response"
        with pytest.raises(ApiError) as credential:
            bwm.issue_certificate("L")
        assert credential.value.code == "invalid_response"


def test_path_parameters_cannot_walk_out_of_their_route() -> None:
    paths: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path)
        return httpx.Response(404, json={"code": "not_found", "detail": "no"})

    with _client(handler) as client:
        for call in (lambda: client.event("../../healthz"), lambda: client.party_info("../x")):
            with pytest.raises(ApiError):
                call()
    assert paths == [b"/v1/events/..%2F..%2Fhealthz", b"/v1/parties/..%2Fx"]


def test_batch_problems_keep_every_member_the_server_sent() -> None:
    problem = {"type": "t", "title": "T", "status": 409, "detail": "d", "code": "stale_head",
               "head": "ab" * 32}  # fmt: skip
    answer = {"results": [{"status": 409, "problem": problem}]}
    with _client(lambda r: httpx.Response(200, json=answer), party="bwm", key=KEYS["bwm"]) as bwm:
        (refused,) = bwm.post_batch([bwm.sign("lot.create", _LOT_BODY, prev={})])
    assert isinstance(refused, ApiError) and refused.problem == problem


_LOT_BODY = {
    "lot": "L",
    "material": "Al",
    "mass_kg": "1",
    "source": "post_consumer",
    "site": {"country": "US"},
}
