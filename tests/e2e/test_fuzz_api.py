"""Schemathesis against the app's OpenAPI: no 5xx, and every answer matches the schema.

The app serves the GUIDE scenario (plus a lot with an EPC URN id) from SQLite and is called
in-process over ASGI (schemathesis' ASGI transport, a Starlette TestClient) with an admin token,
so every operation is reachable. Each operation of ``/openapi.json`` gets up to ``MAX_EXAMPLES``
generated cases per phase (examples, coverage, fuzzing; valid and invalid data; fixed seed and
deterministic generation), and every response goes through ALL of schemathesis' default checks:
``not_a_server_error``, ``status_code_conformance``, ``content_type_conformance``,
``response_schema_conformance`` (problem bodies included: they are documented as ``Problem``
under application/problem+json), ``response_headers_conformance``,
``negative_data_rejection``, ``positive_data_acceptance`` (except where explained in
``CONFIG``), ``unsupported_method`` (a 405 with ``Allow``) and the rest. Then
``test_known_resources_conform`` reads every lot, party and event that exists through every
route, so the success bodies are checked against their models too.

The schema is built at import from the app factory's own document, and
``test_live_openapi_is_the_fuzzed_one`` proves it equals what the live app serves at
``/openapi.json``. (It is not loaded through ``schemathesis.pytest.from_fixture``: in
schemathesis 4.32 that lazy loader reads ``Node._nodeid``, which pytest 9.2 no longer has.)
Reproduce one failure with the ``curl`` line schemathesis prints; change ``SEED`` to explore.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.client.keyfile import save_private_key
from ledger.service import Ledger
from ledger.service.settings import Settings
from ledger.service.tokens import create_token
from tests.support.ledgers import ORIGIN, PUBLIC_URL, open_ledger, openapi_document
from tests.support.scenario import ENCLOSURE, private_key, scenario_chain

MAX_EXAMPLES = 50
SEED = 20250601


DOCUMENT = openapi_document()
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
        "phases": {"stateful": {"enabled": False}},
        "operations": [
            {
                # "Schema-valid data is accepted" cannot hold for the two event operations:
                # - a schema-valid envelope is not an acceptable event: it also needs an Ed25519
                #   signature over its JCS bytes by a registered key and heads that match the
                #   ledger, which JSON Schema cannot express;
                # - spec §2 strict JSON applies to the whole document (a batch too): no floats,
                #   no integers beyond 2^53-1, no lone surrogates, no nesting deeper than 32,
                #   no duplicate keys. JSON Schema cannot say that of free-form members
                #   (`body`, the batch items), so generated "valid" documents break it.
                # The same strict parse applies to every body (spec §9.1), and certificate
                # verification takes two free-form objects (the credential and the bundle).
                # Refusals are still checked like everywhere else (no 5xx, documented status,
                # schema-conformant problem body, invalid data refused), and
                # tests/e2e/test_hostile_events.py and tests/api/test_bodies.py cover these
                # operations in depth.
                "include-name": [
                    "POST /v1/events",
                    "POST /v1/events/batch",
                    "POST /v1/certificates/verify",
                ],
                "checks": {"positive_data_acceptance": {"enabled": False}},
            },
            {
                # A batch's items are typed as events (`Event`), but each item is validated on
                # its own: a batch holding an invalid event is answered 200 with that event's
                # problem in its result (spec §9.5), so "schema-invalid data is refused" does not
                # hold for the batch as a whole. tests/api/test_api.py checks those results.
                "include-name": ["POST /v1/events/batch"],
                "checks": {"negative_data_rejection": {"enabled": False}},
            },
        ],
    }
)
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


#: a lot id with every special character spec §1 allows (":" "/" "#" "." "_" "-")
URN_LOT = "urn:epc:class:lgtin:8801234.012345.B77/2025#1_a-b"


class Live(NamedTuple):
    app: FastAPI
    headers: dict[str, str]
    ledger: Ledger


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The app on the GUIDE scenario (plus a lot with an EPC URN id), with an admin token."""
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('fuzz')) / 'ledger.db'}"
    chain = scenario_chain()
    chain.post(
        "bwm",
        "lot.create",
        {
            "lot": URN_LOT,
            "material": "aluminium scrap",
            "mass_kg": "1.5",
            "source": "pre_consumer_other",
            "site": {"country": "US"},
        },
    )
    ledger = open_ledger(url)
    for ev in chain.events:
        ledger.append(ev)
    token = create_token(ledger.store, "operator", "admin")
    keys = tmp_path_factory.mktemp("keys")
    save_private_key(private_key("attest"), keys / "attest.pem")  # certificates can be issued
    app = create_app(
        Settings(database_url=url, origin=ORIGIN, key_dir=keys, public_url=PUBLIC_URL),
        ledger=ledger,
    )
    ledger.issue_certificate(ENCLOSURE, issuer_key=private_key("attest"), public_url=PUBLIC_URL)
    yield Live(app, {"Authorization": f"Bearer {token}"}, ledger)
    ledger.close()


def test_live_openapi_is_the_fuzzed_one(live: Live) -> None:
    with TestClient(live.app) as client:
        assert client.get("/openapi.json").json() == DOCUMENT


@schema.parametrize()
def test_api_conforms(case: schemathesis.Case[Any], live: Live) -> None:
    """Generated requests (mostly unknown ids and bad values): refusals conform."""
    case.call_and_validate(app=live.app, headers=live.headers)


def _known_cases(ledger: Ledger) -> Iterator[schemathesis.Case[Any]]:
    """Requests for every resource that exists, so the success bodies are checked too."""
    for lot in ledger.list_lots(limit=1000):
        # percent-encoded like ledger.client does ("#" would otherwise start a fragment)
        lot_id = quote(lot.lot, safe=":/")
        for suffix in ("", "/events", "/provenance", "/bundle"):
            yield schema["/v1/lots/{lot}" + suffix]["GET"].Case(path_parameters={"lot": lot_id})
    yield schema["/v1/lots"]["GET"].Case(query={"limit": 3})
    yield schema["/v1/lots"]["GET"].Case(query={"status": "consumed"})
    for party in ledger.list_parties(limit=1000):
        yield schema["/v1/parties/{party_id}"]["GET"].Case(path_parameters={"party_id": party.id})
    yield schema["/v1/parties"]["GET"].Case(query={"limit": 2, "after": "alus"})
    size = ledger.size()
    for seq, ev in ledger.events(range(size)):
        yield schema["/v1/events/{event_hash}"]["GET"].Case(path_parameters={"event_hash": ev.hash})
        yield schema["/v1/log/proof/inclusion"]["GET"].Case(query={"hash": ev.hash})
        yield schema["/v1/log/proof/inclusion"]["GET"].Case(query={"hash": ev.hash, "size": size})
        yield schema["/v1/log/proof/consistency"]["GET"].Case(query={"from": seq + 1, "to": size})
    yield schema["/v1/log/checkpoint"]["GET"].Case()
    yield schema["/healthz"]["GET"].Case()
    yield schema["/v1/tokens"]["POST"].Case(body={"party": "alus", "role": "partner"})
    yield schema["/v1/events/batch"]["POST"].Case(body={"events": []})
    yield schema["/v1/certificates"]["GET"].Case(query={"limit": 2})
    yield schema["/v1/schemas"]["GET"].Case()
    for name in ("envelope", "lot.create", "credit.allocate"):
        yield schema["/v1/schemas/{name}"]["GET"].Case(path_parameters={"name": name})
    for record in ledger.certificates.list():
        ref = {"uuid": record.id.removeprefix("urn:uuid:")}
        for path in ("/c/{uuid}", "/c/{uuid}.json", "/c/{uuid}.pdf", "/c/{uuid}/status"):
            yield schema[path]["GET"].Case(path_parameters=ref)
        cert = {"cert_id": record.id}
        for path in ("/v1/certificates/{cert_id}", "/v1/certificates/{cert_id}/status"):
            yield schema[path]["GET"].Case(path_parameters=cert)
    yield schema["/status/{number}"]["GET"].Case(path_parameters={"number": 1})


def test_known_resources_conform(live: Live) -> None:
    """Every lot, party and event of the scenario, read through every route, conforms."""
    statuses = []
    for case in _known_cases(live.ledger):
        response = case.call_and_validate(app=live.app, headers=live.headers)
        statuses.append((case.formatted_path, response.status_code))
    assert {code for _, code in statuses} == {200, 201}, statuses
    assert len(statuses) > 100
