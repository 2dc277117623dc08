"""The online status check against a hostile status list server (review 9)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

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
