"""The online status check against a hostile status list server (review 9)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.cli.certstatus import fetch_status


@pytest.fixture
def dripping() -> Iterator[str]:
    """A server that answers 200 and then one byte every 0.2 s for about 6 s."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/vc\r\n\r\n")
                for _ in range(30):
                    if stop.is_set():
                        break
                    try:
                        conn.sendall(b" ")
                    except OSError:
                        break
                    time.sleep(0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    host, port = listener.getsockname()
    yield f"http://{host}:{port}/status/1"
    stop.set()
    thread.join(5)
    listener.close()


def test_a_status_server_that_drips_cannot_hold_the_verifier_past_its_timeout(
    dripping: str,
) -> None:
    credential = {
        "id": "http://127.0.0.1:9/c/00000000-0000-4000-8000-000000000000",
        "credentialStatus": {
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": "7",
            "statusListCredential": dripping,
        },
    }
    start = time.monotonic()
    found = fetch_status(credential, timeout=1.0)
    elapsed = time.monotonic() - start
    assert found is not None and "error" in found, found
    assert elapsed < 3, f"the verifier waited {elapsed:.1f} s with a 1 s timeout"


def test_a_status_list_signed_a_year_ago_is_not_taken_as_current(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from ledger.attest.certificates import certify
    from ledger.attest.status import check_status, status_entry, status_list_credential
    from tests.support.ledgers import scenario_ledger
    from tests.support.scenario import ENCLOSURE, private_key

    key = private_key("attest")
    url = "https://ledger.test/status/1"
    with scenario_ledger(f"sqlite:///{tmp_path}/l.db") as led:
        credential = certify(
            led.bundle(ENCLOSURE),
            config=led.config,
            issuer_key=key,
            now=datetime(2025, 1, 2, tzinfo=UTC),
            credential_status=status_entry(url, 7),
        )
    # the list as it was before the certificate was revoked, replayed by whoever kept it
    old = status_list_credential(url, [], issuer_key=key, valid_from="2025-01-02T00:00:00Z")
    check = check_status(credential, old, now=datetime(2026, 1, 2, tzinfo=UTC))
    assert check.set is None, "a year-old list was taken as the certificate's current status"
