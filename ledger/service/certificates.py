"""Issued certificates (spec §8, §8.9): issuing each with its public URL and status list
entry, reading them, their status (``certstatus``), revocations and the signed status lists.

The :class:`~ledger.service.ledger.Ledger` holds one :class:`CertificateBook` as
``ledger.certificates``.
"""

from __future__ import annotations

import builtins
import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from ..attest import status
from ..attest.certificates import certify, check_model
from ..attest.credentials import did_key
from ..core import rules
from ..core.keys import Ed25519PrivateKey, public_raw
from ..core.values import UUID_RE, format_time
from ..errors import LedgerError, NotFound
from ..store.protocol import CertificateRecord, Store
from .certstatus import CertificateStatus, StatusBook

__all__ = ["CERT_ID_RE", "CertificateBook", "CertificateRecord", "CertificateStatus"]

CERT_ID_RE = re.compile("urn:uuid:" + UUID_RE.pattern)


class CertificateBook:
    """The certificates of one ledger.

    Args:
        store: the ledger's store.
        bundle: ``lot -> its audit bundle`` (full, against a fresh checkpoint).
        report: ``(lot, as_of) -> its spec §7 report`` from the ledger now.
        size: the current log size.
        config: the rule configuration (the replay of a bundle).
        clock: the ledger clock.
    """

    def __init__(
        self,
        store: Store,
        *,
        bundle: Callable[[str], dict[str, Any]],
        report: Callable[[str, date], Mapping[str, Any]],
        size: Callable[[], int],
        config: rules.RuleConfig,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._bundle = bundle
        self._config = config
        self._clock = clock
        self.statuses = StatusBook(store, report=report, size=size, clock=clock)

    def issue(
        self,
        lot_id: str,
        *,
        issuer_key: Ed25519PrivateKey,
        public_url: str | None,
        issuer_name: str | None = None,
        as_of: date | None = None,
        model: str | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Issue a certificate computed from the lot's bundle and store both (append-only);
        returns (credential, bundle).

        The credential's ``id`` is its public page ``<public_url>/c/<uuid>`` and its
        ``credentialStatus`` a random free entry of the current status list
        ``<public_url>/status/<n>`` (spec §8.2, §8.9).

        Raises:
            LedgerError: no ``public_url`` (``public_url_unset``), a bad ``model``
                (``bad_request``); NotFound: no such lot.
        """
        check_model(model)
        if not public_url:
            raise LedgerError(
                "this ledger has no public URL, so a certificate would point nowhere its readers "
                "can reach: set LEDGER_PUBLIC_URL to the https:// address where this server is "
                "published (its /c/ and /status/ paths must be reachable without a token)",
                code="public_url_unset",
            )
        base = public_url.rstrip("/")
        bundle = self._bundle(lot_id)
        for _ in range(8):  # another node may take the same free index at the same moment
            cert_uuid = str(uuid.uuid4())
            status_list, index = self._free_status_entry()
            list_url = f"{base}/status/{status_list}"
            credential = certify(
                bundle,
                config=self._config,
                issuer_key=issuer_key,
                now=self._clock(),
                as_of=as_of,
                model=model,
                id=f"{base}/c/{cert_uuid}",
                issuer_name=issuer_name,
                credential_status=status.status_entry(list_url, index),
            )
            record = CertificateRecord(
                id=f"urn:uuid:{cert_uuid}",
                lot=lot_id,
                credential=json.dumps(credential),
                bundle=json.dumps(bundle),
                issued_at=str(credential["validFrom"]),
                status_list=status_list,
                status_index=index,
            )
            if self._store.add_certificate(record):
                return credential, bundle
        raise LedgerError("could not reserve a status list entry; try again", code="storage_error")

    def _free_status_entry(self) -> tuple[int, int]:
        """(list, index): a random free index of the first list not yet half full."""
        status_list = 1 + self._store.certificate_count() // (status.LIST_BITS // 2)
        while True:
            index = status.pick_index(self._store.status_indexes(status_list))
            if index is not None:
                return status_list, index
            status_list += 1

    def record(self, cert_id: str) -> CertificateRecord:
        """The stored certificate by its id: ``urn:uuid:<uuid>``, or the bare UUID as in its
        public URL. Raises NotFound."""
        # anything not shaped like an id (a NUL byte, say, which PostgreSQL text cannot hold)
        # is not looked up at all
        key = cert_id if cert_id.startswith("urn:uuid:") else f"urn:uuid:{cert_id}"
        found = self._store.certificate(key) if CERT_ID_RE.fullmatch(key) else None
        if found is None:
            raise NotFound(f"no certificate {cert_id!r}")
        return found

    def get(self, cert_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(credential, bundle) of an issued certificate. Raises NotFound."""
        found = self.record(cert_id)
        return json.loads(found.credential), json.loads(found.bundle)

    def list(
        self,
        *,
        lot: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        seen_by: str | None = None,
    ) -> builtins.list[CertificateRecord]:
        """Issued certificates in id order (of one lot), after the id ``after``; with
        ``seen_by``, only those of lots in that party's view."""
        return self._store.certificates(lot=lot, after=after, limit=limit, seen_by=seen_by)

    def status(self, cert_id: str) -> CertificateStatus:
        """The certificate's current status (its figures re-checked when the log grew; a
        supersession found is recorded). Raises NotFound."""
        return self.statuses.status(self.record(cert_id))

    def revoke(self, cert_id: str, *, reason: str, by: str) -> CertificateStatus:
        """Revoke a certificate (final; recorded append-only). Raises NotFound."""
        record = self.record(cert_id)
        self.statuses.revoke(record, reason=reason, by=by)
        return self.statuses.status(record)

    def status_list(
        self,
        number: int,
        *,
        issuer_key: Ed25519PrivateKey,
        public_url: str,
        issuer_name: str | None = None,
    ) -> dict[str, Any]:
        """The signed status list credential ``<public_url>/status/<number>`` (spec §8.9), its
        certificates re-checked first. Raises NotFound: no certificate uses that list."""
        if number < 1 or number > 1 + self._store.certificate_count() // (status.LIST_BITS // 2):
            raise NotFound(f"no status list {number}")
        did = did_key(public_raw(issuer_key))
        return status.status_list_credential(
            f"{public_url.rstrip('/')}/status/{number}",
            self.statuses.set_indexes(number),
            issuer_key=issuer_key,
            issuer=did if issuer_name is None else {"id": did, "name": issuer_name},
            valid_from=format_time(self._clock().replace(microsecond=0)),
        )
