"""Red-team findings on certificate status (review 9)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.core.events import sign
from ledger.core.keys import key_object
from tests.api.test_api import LATE, Env, app_env
from tests.api.test_certificate_status import _h, _local
from tests.support.scenario import ENCLOSURE, KEYS, private_key


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    with app_env(db_url) as e:
        yield e


def _register(env: Env, party: str, *, feoc: bool = False, name: str = "Somebody") -> None:
    key = private_key(party)
    ev = sign(
        type="party.register",
        actor="operator",
        key=KEYS["operator"],
        body={
            "party": {
                "id": party,
                "name": name,
                "country": "KR",
                "roles": ["manufacturer"],
                "feoc": feoc,
            },
            "keys": [key_object(key)],
        },
        prev={},
        time=LATE,
    )
    r = env.post_event(ev, env.admin)
    assert r.status_code == 201, r.text


def _ship(env: Env, lot: str, to: str, actor: str = "packco") -> None:
    ev = sign(
        type="lot.ship",
        actor=actor,
        key=KEYS[actor],
        body={"lot": lot, "to": to, "mass_kg": "19500"},
        prev={lot: env.ledger.lot(lot).head},
        time=LATE,
    )
    r = env.post_event(ev, env.partner[actor])
    assert r.status_code == 201, r.text


def _hand_over(env: Env, lot: str, to: str) -> None:
    """packco ships ``lot`` to ``to``, which receives it."""
    ship = sign(
        type="lot.ship",
        actor="packco",
        key=KEYS["packco"],
        body={"lot": lot, "to": to, "mass_kg": "19500"},
        prev={lot: env.ledger.lot(lot).head},
        time=LATE,
    )
    r = env.post_event(ship, env.partner["packco"])
    assert r.status_code == 201, r.text
    receive = sign(
        type="lot.receive",
        actor=to,
        key=private_key(to),
        body={"lot": lot, "ship": ship.hash, "mass_kg": "19500"},
        prev={lot: env.ledger.lot(lot).head},
        time=LATE,
    )
    r = env.post_event(receive, env.partner[to])
    assert r.status_code == 201, r.text


def test_superseded_by_does_not_hand_a_partner_a_later_custodians_certificate(env: Env) -> None:
    from ledger.service.tokens import create_token

    _register(env, "rival")
    env.partner["rival"] = create_token(env.ledger.store, "rival", "partner")
    r = env.client.post(
        "/v1/certificates", json={"lot": ENCLOSURE}, headers=_h(env.partner["packco"])
    )
    assert r.status_code == 201, r.text
    mine = r.json()
    _hand_over(env, ENCLOSURE, "rival")
    adjust = sign(
        type="lot.adjust",
        actor="rival",
        key=private_key("rival"),
        body={"lot": ENCLOSURE, "mass_kg": "19000", "reason": "trimmed"},
        prev={ENCLOSURE: env.ledger.lot(ENCLOSURE).head},
        time=LATE,
    )
    assert env.post_event(adjust, env.partner["rival"]).status_code == 201
    r = env.client.post(
        "/v1/certificates", json={"lot": ENCLOSURE}, headers=_h(env.partner["rival"])
    )
    assert r.status_code == 201, r.text
    theirs = r.json()
    # packco may not read the rival's certificate (it tells of history after packco's cut-off)
    ref = theirs["id"].rsplit("/", 1)[-1]
    hidden = env.client.get(f"/v1/certificates/{ref}", headers=_h(env.partner["packco"]))
    assert hidden.status_code == 404
    # ... so neither packco's token route nor the public record of packco's own certificate
    # may hand it over as the successor
    mine_ref = mine["id"].rsplit("/", 1)[-1]
    token_route = env.client.get(
        f"/v1/certificates/{mine_ref}/status", headers=_h(env.partner["packco"])
    ).json()
    public = env.client.get(_local(mine["id"]) + "/status").json()
    for status in (token_route, public):
        assert status["status"] == "superseded", status
        assert status["superseded_by"] != theirs["id"], status


def test_in_demo_mode_a_host_header_does_not_choose_where_a_certificate_lives(
    db_url: str,
) -> None:
    with app_env(db_url, public_url=None, demo=True) as env:
        r = env.client.post(
            "/v1/certificates",
            json={"lot": ENCLOSURE},
            headers={**_h(env.partner["packco"]), "Host": "evil.example"},
        )
        assert r.status_code == 201, r.text
        # the ledger signed a certificate whose page and status list are on the caller's host
        assert "evil.example" not in r.json()["credentialStatus"]["statusListCredential"]
