"""Check a certificate's status online (spec §8.9), as a stranger's verifier does.

The certificate names its status list (``credentialStatus.statusListCredential``); the list is a
credential signed by the certificate's issuer. When the certificate's bit is set, its status
record (``<credential id>/status``) says whether it was superseded (and by which certificate) or
revoked, and why. Only call this for a certificate whose proof verified and whose issuer you
trust: the URLs come from it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from ..attest.status import check_status, entry_of
from ..core import canonical
from ..errors import LedgerError

__all__ = ["fetch_status"]

#: the most a status list or status record may weigh (a 16 KiB list gzips to a few hundred bytes)
_MAX_BYTES = 1024 * 1024


def _get_json(http: httpx.Client, url: str, deadline: float) -> Any:
    """The JSON at ``url``: at most :data:`_MAX_BYTES`, all of it before ``deadline``
    (``time.monotonic()``): httpx's timeout bounds each read, not the whole answer, so a
    server dripping a byte at a time would otherwise hold the verifier for hours."""
    with http.stream("GET", url, headers={"Accept": "application/vc, application/json"}) as r:
        if r.status_code != 200:
            raise ValueError(f"GET {url} answered {r.status_code}")
        body = bytearray()
        for chunk in r.iter_bytes():
            body += chunk
            if len(body) > _MAX_BYTES:
                raise ValueError(f"GET {url} answered more than {_MAX_BYTES} bytes")
            if time.monotonic() > deadline:
                raise ValueError(f"GET {url} took longer than its timeout")
    return canonical.loads(bytes(body), allow_floats=True, max_bytes=None)


def fetch_status(
    credential: Mapping[str, Any],
    *,
    timeout: float = 10.0,
    transport: httpx.BaseTransport | None = None,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """The certificate's status as its issuer publishes it: ``{"status": "valid" | "superseded"
    | "revoked", "reason", "superseded_by", "list"}``, or ``{"error": why}`` when it could not be
    established; None when the certificate has no status entry. Never raises."""
    try:
        found = entry_of(credential)
    except ValueError as e:
        return {"error": str(e)}
    if found is None:
        return None
    list_url, _ = found
    deadline = time.monotonic() + timeout
    try:
        with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as http:
            listed = _get_json(http, list_url, deadline)
            check = check_status(credential, listed, now=now or datetime.now(UTC))
            if check.set is None:
                return {"error": f"status list {list_url}: {check.error}", "list": list_url}
            if not check.set:
                return _newer(http, credential, list_url, deadline)
            return _record(http, credential, list_url, deadline)
    except (httpx.HTTPError, ValueError, LedgerError) as e:
        return {"error": f"cannot read the status of the certificate: {e}", "list": list_url}


def _status_record(
    http: httpx.Client, credential: Mapping[str, Any], deadline: float
) -> tuple[Any, str]:
    """(the certificate's status record ``<id>/status``, "") or (None, why it could not be
    read; "" when the certificate's id is no http(s) page)."""
    ident = credential.get("id")
    if not isinstance(ident, str) or not ident.startswith(("https://", "http://")):
        return None, ""
    try:
        return _get_json(http, f"{ident}/status", deadline), ""
    except (httpx.HTTPError, ValueError, LedgerError) as e:
        return None, str(e)


def _newer(
    http: httpx.Client, credential: Mapping[str, Any], list_url: str, deadline: float
) -> dict[str, Any]:
    """A certificate whose bit is clear: valid, unless its status record already says
    otherwise (a list may lag its records by up to 30 s, spec §8.9). The record can make the
    status worse, never better; when it cannot be read, the signed list decides."""
    valid = {"status": "valid", "reason": None, "superseded_by": None, "list": list_url}
    record, _ = _status_record(http, credential, deadline)
    return _withdrawn(record, list_url) or valid


def _record(
    http: httpx.Client, credential: Mapping[str, Any], list_url: str, deadline: float
) -> dict[str, Any]:
    """The status record of a certificate whose bit is set. The bit is signed; the record is
    not: it explains, it cannot clear."""
    withdrawn = {"status": "revoked", "superseded_by": None, "list": list_url}
    record, why = _status_record(http, credential, deadline)
    if record is None:
        detail = f" ({why})" if why else ""
        return {**withdrawn, "reason": f"its status list marks it withdrawn{detail}"}
    found = _withdrawn(record, list_url)
    if found is None:
        state = record.get("status") if isinstance(record, Mapping) else None
        return {
            **withdrawn,
            "reason": "its status list marks it withdrawn (its status record says "
            f"{state!r}, which the signed list contradicts)",
        }
    return found


def _withdrawn(record: Any, list_url: str) -> dict[str, Any] | None:
    """The status a status record states when it is superseded or revoked, else None."""
    if not isinstance(record, Mapping) or record.get("status") not in ("superseded", "revoked"):
        return None
    by = record.get("superseded_by")
    return {
        "status": record["status"],
        "reason": str(record.get("reason") or ""),
        "superseded_by": by if isinstance(by, str) else None,
        "list": list_url,
    }
