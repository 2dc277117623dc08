"""What a database is (issue 8 D, findings 9 and 10), on both databases: the log key pinned at
the first open, and demo mode only on a database demo mode made."""

from __future__ import annotations

import threading

import pytest

from ledger.core.checkpoint import Signer
from ledger.errors import LedgerError
from ledger.service import Ledger
from ledger.service.identity import (
    DEMO,
    LOG_VKEY,
    DemoDatabase,
    DemoRefused,
    LogKeyMismatch,
)
from ledger.store.protocol import TokenRecord
from ledger.store.sql import SqlStore
from tests.support.ledgers import NOW, ORIGIN, log_signer, open_ledger, scenario_ledger, tamper
from tests.support.scenario import private_key

OTHER_KEY = Signer(ORIGIN, private_key("another log key"))
OTHER_ORIGIN = Signer("another.test/log", private_key("log"))  # the same key, another name


def _open(url: str, signer: Signer, *, demo: bool = False) -> Ledger:
    store = SqlStore(url)
    try:
        return Ledger(store, log_signer=signer, origin=signer.name, clock=lambda: NOW, demo=demo)
    except LedgerError:
        store.close()
        raise


def _refused(url: str, signer: Signer, error: type[LedgerError], *, demo: bool = False) -> str:
    store = SqlStore(url)
    try:
        with pytest.raises(error) as refused:
            Ledger(store, log_signer=signer, origin=signer.name, demo=demo)
    finally:
        store.close()
    return refused.value.message


def _meta(url: str) -> dict[str, str]:
    store = SqlStore(url)
    try:
        return store.log_meta()
    finally:
        store.close()


# --------------------------------------------------------------------------- 10. the log key
def test_the_first_open_pins_the_log_key(db_url: str) -> None:
    with open_ledger(db_url) as ledger:
        assert ledger.store.log_meta() == {LOG_VKEY: log_signer().verifier.vkey}
    with open_ledger(db_url):
        pass  # the same key opens it again


@pytest.mark.parametrize("other", [OTHER_KEY, OTHER_ORIGIN], ids=["key", "origin"])
def test_another_log_key_or_origin_is_refused(db_url: str, other: Signer) -> None:
    """Before, a ledger opened with another log key signed the next checkpoint of the same
    log with it."""
    with scenario_ledger(db_url) as ledger:
        signed = ledger.checkpoint()
    message = _refused(db_url, other, LogKeyMismatch)
    ours = log_signer().verifier
    for key in (ours, other.verifier):  # both keys, by name and key id, and what to do
        assert key.vkey in message and f"key id {key.key_id.hex()}" in message
    assert "LEDGER_KEY_DIR" in message and "new database" in message
    with open_ledger(db_url) as ledger:
        assert ledger.store.latest_checkpoint() == signed  # nothing was signed


def test_a_database_from_before_the_pin_adopts_the_key_of_its_checkpoints(db_url: str) -> None:
    with scenario_ledger(db_url) as ledger:
        size = ledger.checkpoint().size
        tamper(ledger.store, "DELETE FROM log_meta")  # as migration 0003 finds an old database
    message = _refused(db_url, OTHER_KEY, LogKeyMismatch)
    assert f"latest checkpoint in this database (size {size})" in message
    assert f"signed by {ORIGIN}+{log_signer().key_id.hex()}" in message
    assert OTHER_KEY.verifier.vkey in message
    assert _meta(db_url) == {}  # a refused adoption records nothing
    with open_ledger(db_url) as ledger:  # the key that signed it is adopted ...
        assert ledger.fsck().ok
    assert _meta(db_url) == {LOG_VKEY: log_signer().verifier.vkey}
    _refused(db_url, OTHER_KEY, LogKeyMismatch)  # ... and pinned


def test_a_database_with_events_but_no_checkpoint_adopts_the_configured_key(
    db_url: str,
) -> None:
    with scenario_ledger(db_url) as ledger:
        assert ledger.store.latest_checkpoint() is None
        size = ledger.size()
        tamper(ledger.store, "DELETE FROM log_meta")
    with _open(db_url, OTHER_KEY) as ledger:  # nothing was ever signed: no key has a claim
        assert ledger.checkpoint().size == size
    assert _meta(db_url) == {LOG_VKEY: OTHER_KEY.verifier.vkey}


def test_first_opens_racing_with_different_keys_pin_exactly_one(db_url: str) -> None:
    SqlStore(db_url).close()  # the schema first: this test is about the pin
    signers = [Signer(ORIGIN, private_key(f"log {i}")) for i in range(3)]
    start = threading.Barrier(len(signers))
    opened: list[Signer] = []
    refused: list[str] = []

    def first_open(signer: Signer) -> None:
        start.wait()
        try:
            _open(db_url, signer).close()
            opened.append(signer)
        except LogKeyMismatch as e:
            refused.append(e.code)

    threads = [threading.Thread(target=first_open, args=(s,)) for s in signers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(opened) == 1 and refused == ["log_key_mismatch"] * 2
    assert _meta(db_url) == {LOG_VKEY: opened[0].verifier.vkey}


# --------------------------------------------------------------------------- 9. demo mode
def test_demo_mode_refuses_a_database_it_did_not_make(db_url: str) -> None:
    """Before, demo mode opened (and ``serve --demo`` minted an admin token on) any database."""
    with scenario_ledger(db_url):
        pass
    message = _refused(db_url, log_signer(), DemoRefused, demo=True)
    assert "demo mode did not make" in message and "LEDGER_DATABASE_URL" in message
    assert DEMO not in _meta(db_url)


def test_demo_mode_refuses_a_database_holding_only_tokens(db_url: str) -> None:
    store = SqlStore(db_url)
    store.add_token(TokenRecord("h", "operator", "admin", "2026-01-01T00:00:00Z"))
    store.close()
    _refused(db_url, log_signer(), DemoRefused, demo=True)


def test_demo_mode_refuses_an_unmarked_database_from_before_the_mark(db_url: str) -> None:
    with _open(db_url, log_signer(), demo=True) as ledger:
        ledger.checkpoint()
        tamper(ledger.store, "DELETE FROM log_meta")
    _refused(db_url, log_signer(), DemoRefused, demo=True)


def test_demo_mode_marks_a_new_database_which_then_opens_only_in_demo_mode(
    db_url: str,
) -> None:
    with _open(db_url, log_signer(), demo=True) as ledger:
        assert set(ledger.store.log_meta()) == {LOG_VKEY, DEMO}
    with _open(db_url, log_signer(), demo=True):
        pass  # demo mode reopens its own database
    message = _refused(db_url, log_signer(), DemoDatabase)
    assert "made in demo mode" in message and "ledger init" in message
