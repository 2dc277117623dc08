"""A client generated from the OpenAPI document by a published generator works.

``openapi-python-client`` (a test dependency) generates a Python client from the app's own
``/openapi.json`` (once per session, as a subprocess: templates only, no network). Against a real
``ledger serve`` process, a partner then posts an event signed by our signing code through the
generated client's TYPED models (the ``LotCreateEvent`` variant of the ``Event`` union, parsed
from the signed envelope and serialised again), and reads the lot back through it.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from ledger.core.events import sign
from tests.e2e.conftest import ScenarioServer
from tests.support.scenario import KEYS, now_text

CONFIG = "project_name_override: ltl-client\npackage_name_override: ltl_client\npost_hooks: []\n"


@pytest.fixture(scope="session")
def generated(
    scenario_server: ScenarioServer, tmp_path_factory: pytest.TempPathFactory
) -> ModuleType:
    """The ``ltl_client`` package generated from the live server's OpenAPI document."""
    work = tmp_path_factory.mktemp("generated-client")
    document = httpx.get(f"{scenario_server.url}/openapi.json", timeout=10).json()
    (work / "openapi.json").write_text(json.dumps(document), "utf-8")
    (work / "config.yaml").write_text(CONFIG, "utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            "openapi.json",
            "--config",
            "config.yaml",
            "--meta",
            "none",
            "--output-path",
            "ltl_client",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (work / "ltl_client" / "client.py").is_file(), done.stdout
    sys.path.insert(0, str(work))
    try:
        return importlib.import_module("ltl_client")
    finally:
        sys.path.remove(str(work))


def _module(name: str) -> Any:
    return importlib.import_module(f"ltl_client.{name}")


def test_generated_client_posts_a_signed_event_and_reads_the_lot(
    generated: ModuleType, scenario_server: ScenarioServer
) -> None:
    lot = f"GEN-{uuid.uuid4().hex[:12].upper()}"
    body = {
        "lot": lot,
        "material": "aluminium scrap, sorted",
        "mass_kg": "1250.5",
        "source": "post_consumer",
        "site": {"country": "US", "name": "Bartlesville yard"},
        "composition": {"Al": "0.92", "Si": "0.05"},
    }
    ev = sign(type="lot.create", actor="bwm", key=KEYS["bwm"], body=body, time=now_text())

    models = _module("models")
    typed = models.LotCreateEvent.from_dict(dict(ev.envelope))  # the union's variant for its type
    assert typed.to_dict() == ev.envelope
    client = generated.AuthenticatedClient(
        base_url=scenario_server.url, token=scenario_server.tokens["bwm"]
    )
    with client as c:
        post_event = _module("api.events.post_event_v1_events_post")
        answer = post_event.sync_detailed(client=c, body=typed)
        assert answer.status_code == 201, answer.content
        receipt = answer.parsed
        assert isinstance(receipt, models.ReceiptOut)
        assert receipt.hash_ == ev.hash and receipt.lots.to_dict() == {lot: ev.hash}

        again = post_event.sync_detailed(client=c, body=typed)  # idempotent: 200, same receipt
        assert again.status_code == 200 and again.parsed.hash_ == ev.hash

        get_lot = _module("api.lots.get_lot_v1_lots_lot_get")
        found = get_lot.sync(lot, client=c)
        assert isinstance(found, models.LotOut)
        assert (found.lot, found.material, found.mass_kg, found.custodian, found.head) == (
            lot,
            body["material"],
            "1250.5",
            "bwm",
            ev.hash,
        )

        missing = get_lot.sync_detailed("GEN-NO-SUCH-LOT", client=c)
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.Problem) and missing.parsed.code == "not_found"


def test_generated_client_sees_the_union_as_the_server_does(generated: ModuleType) -> None:
    """Every event type has its typed model; the envelope union is what the server publishes."""
    from ledger.core.json_schema import event_name
    from ledger.core.values import EVENT_TYPES

    models = _module("models")
    for t in EVENT_TYPES:
        assert hasattr(models, event_name(t)), t
    source = Path(_module("api.events.post_event_v1_events_post").__file__).read_text("utf-8")
    assert all(event_name(t) in source for t in EVENT_TYPES)
