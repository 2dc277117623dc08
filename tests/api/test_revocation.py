"""Token revocation takes effect on every server at the next request (spec §9.3; issue 8
finding 12): servers read the token from the database on every request, with no cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.service.settings import Settings
from ledger.service.tokens import create_token, hash_token
from tests.api.test_api import Env, app_env, assert_problem
from tests.support.ledgers import open_ledger


@pytest.fixture
def two_servers(db_url: str) -> Iterator[tuple[Env, TestClient]]:
    """The scenario app, and a second app with its own ledger over the same database."""
    with app_env(db_url) as first:
        other = open_ledger(db_url)
        try:
            second = create_app(Settings(database_url=db_url), ledger=other)
            yield first, TestClient(second)
        finally:
            other.close()


def test_a_token_revoked_on_one_server_fails_at_the_next_request_on_another(
    two_servers: tuple[Env, TestClient],
) -> None:
    """The finding: the other server kept accepting the token for 30 s from its cache."""
    first, second = two_servers
    spare = create_token(first.ledger.store, "lab", "partner")
    auth = {"Authorization": f"Bearer {spare}"}
    # both servers have seen the token work (the old code cached it now)
    assert first.get("/v1/parties", spare).status_code == 200
    assert second.get("/v1/parties", headers=auth).status_code == 200
    gone = first.client.delete(
        f"/v1/tokens/{hash_token(spare)}", headers=first.headers(first.admin)
    )
    assert gone.status_code == 204
    assert_problem(second.get("/v1/parties", headers=auth), 401, "unauthorized")
    assert_problem(first.get("/v1/parties", spare), 401, "unauthorized")
    # writes too
    assert_problem(first.post_event(first.create(), spare), 401, "unauthorized")


def test_a_token_revoked_from_the_command_line_fails_at_the_next_request(
    two_servers: tuple[Env, TestClient],
) -> None:
    """``ledger token revoke`` writes the database only: no server is told."""
    first, second = two_servers
    bwm = first.partner["bwm"]
    assert first.post_event(first.create(), bwm).status_code == 201
    assert second.get("/v1/lots", headers={"Authorization": f"Bearer {bwm}"}).status_code == 200
    assert first.ledger.revoke_token(hash_token(bwm))
    assert_problem(first.post_event(first.create(), bwm), 401, "unauthorized")
    resp = second.get("/v1/lots", headers={"Authorization": f"Bearer {bwm}"})
    assert_problem(resp, 401, "unauthorized")
