"""The partner SDK: a small typed client of the LTL/1 HTTP API, on httpx (sync).

A partner holds its own Ed25519 key; the client builds events, signs them locally, posts them,
and raises :class:`ApiError` (with the problem's ``code``) when the ledger refuses.

``stale_head`` retries: the client re-reads the heads, re-signs and retries ONLY events whose
meaning cannot change with the lot's state — ``lot.assay`` (replaces the composition) and
``lot.attest`` (attaches a statement). A ship, receive, transform, adjust or allocation was
decided against a state that moved on, so its refusal is returned to the caller to decide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx

from . import events
from .keys import Ed25519PrivateKey, b64url_encode, kid_of, public_raw

__all__ = ["RETRYABLE_ON_STALE_HEAD", "ApiError", "LedgerClient", "Receipt"]

RETRYABLE_ON_STALE_HEAD = frozenset({"lot.assay", "lot.attest"})


class ApiError(Exception):
    """The ledger refused a request (RFC 9457 problem): ``code`` is the SPEC code."""

    def __init__(self, status: int, code: str, detail: str, problem: Mapping[str, Any]) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.problem = dict(problem)


@dataclass(frozen=True, slots=True)
class Receipt:
    """An accepted event: ``created`` is False for an idempotent repeat."""

    seq: int
    hash: str
    lots: dict[str, str]
    created: bool


class LedgerClient:
    """A client for one party (``party`` and ``key``) or for reading only.

    Args:
        url: base URL of the ledger, e.g. ``http://127.0.0.1:8000``.
        token: the API bearer token.
        party: the party this client signs for (its events' ``actor``).
        key: that party's Ed25519 private key.
        retries: how many times a retryable ``stale_head`` is retried.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        party: str | None = None,
        key: Ed25519PrivateKey | None = None,
        retries: int = 3,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )
        self.party = party
        self.key = key
        self.retries = retries

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport
    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        response = self._http.request(method, path, **kw)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"code": "http_error", "detail": response.text[:500]}
            raise ApiError(
                response.status_code,
                str(body.get("code", "http_error")),
                str(body.get("detail", "")),
                body,
            )
        return response

    def _get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self._request("GET", path, params=clean).json()

    # ------------------------------------------------------------------ events
    def post(self, event: events.SignedEvent) -> Receipt:
        """Post one signed event (raises :class:`ApiError` when refused)."""
        r = self._request(
            "POST",
            "/v1/events",
            content=event.canonical,
            headers={"Content-Type": "application/json"},
        )
        body = r.json()
        return Receipt(body["seq"], body["hash"], dict(body["lots"]), r.status_code == 201)

    def post_batch(self, batch: Sequence[events.SignedEvent]) -> list[Receipt | ApiError]:
        """Post up to 1000 events; per event a Receipt or the ApiError that refused it."""
        r = self._request(
            "POST", "/v1/events/batch", json={"events": [dict(ev.envelope) for ev in batch]}
        )
        out: list[Receipt | ApiError] = []
        for item in r.json()["results"]:
            if item.get("receipt"):
                rc = item["receipt"]
                out.append(Receipt(rc["seq"], rc["hash"], dict(rc["lots"]), item["status"] == 201))
            else:
                p = item["problem"]
                out.append(ApiError(item["status"], p["code"], p["detail"], p))
        return out

    def sign(
        self,
        type: str,
        body: Mapping[str, Any],
        *,
        prev: Mapping[str, str] | None = None,
        time: str | None = None,
        actor: str | None = None,
    ) -> events.SignedEvent:
        """Sign an event as this client's party, with the current heads as ``prev``."""
        if self.key is None or (self.party is None and actor is None):
            raise ValueError("this client has no party key to sign with")
        if prev is None:
            prev = self.heads(events.touched_lots(type, body))
        return events.sign(
            type=type, actor=actor or str(self.party), key=self.key, body=body, prev=prev, time=time
        )

    def submit(
        self,
        type: str,
        body: Mapping[str, Any],
        *,
        time: str | None = None,
        prev: Mapping[str, str] | None = None,
    ) -> Receipt:
        """Sign with the current heads (or the caller's ``prev``) and post; retry ``stale_head``
        where it is safe (never with a caller-given ``prev``: re-reading would not help)."""
        attempt = 0
        while True:
            try:
                return self.post(self.sign(type, body, prev=prev, time=time))
            except ApiError as e:
                if (
                    e.code != "stale_head"
                    or type not in RETRYABLE_ON_STALE_HEAD
                    or prev is not None
                    or attempt >= self.retries
                ):
                    raise
                attempt += 1

    def heads(self, lots: Sequence[str]) -> dict[str, str]:
        """Current heads of the lots that exist among ``lots``."""
        heads: dict[str, str] = {}
        for lot in lots:
            try:
                heads[lot] = self.lot(lot)["head"]
            except ApiError as e:
                if e.code != "not_found":
                    raise
        return heads

    # typed helpers, one per event type -----------------------------------------------------
    def create_lot(
        self,
        lot: str,
        *,
        material: str,
        mass_kg: str,
        source: str,
        site: Mapping[str, str],
        composition: Mapping[str, str] | None = None,
    ) -> Receipt:
        body: dict[str, Any] = {
            "lot": lot,
            "material": material,
            "mass_kg": mass_kg,
            "source": source,
            "site": dict(site),
        }
        if composition is not None:
            body["composition"] = dict(composition)
        return self.submit("lot.create", body)

    def ship(
        self,
        lot: str,
        *,
        to: str,
        mass_kg: str,
        documents: Sequence[Mapping[str, str]] | None = None,
    ) -> Receipt:
        body: dict[str, Any] = {"lot": lot, "to": to, "mass_kg": mass_kg}
        if documents is not None:
            body["documents"] = [dict(d) for d in documents]
        return self.submit("lot.ship", body)

    def receive(self, lot: str, *, ship: str, mass_kg: str) -> Receipt:
        return self.submit("lot.receive", {"lot": lot, "ship": ship, "mass_kg": mass_kg})

    def transform(
        self,
        *,
        process: str,
        site: Mapping[str, str],
        inputs: Sequence[Mapping[str, str]],
        outputs: Sequence[Mapping[str, Any]],
        model: str | None = None,
    ) -> Receipt:
        body: dict[str, Any] = {
            "process": process,
            "site": dict(site),
            "inputs": [dict(i) for i in inputs],
            "outputs": [dict(o) for o in outputs],
        }
        if model is not None:
            body["model"] = model
        return self.submit("lot.transform", body)

    def assay(
        self,
        lot: str,
        *,
        composition: Mapping[str, str],
        report: Mapping[str, str] | None = None,
        prev: Mapping[str, str] | None = None,
    ) -> Receipt:
        """Assay a lot. A lab that never held the lot cannot read its head with a partner
        token (SPEC §9): pass ``prev={lot: head}`` as handed over by the custodian."""
        body: dict[str, Any] = {"lot": lot, "composition": dict(composition)}
        if report is not None:
            body["report"] = dict(report)
        return self.submit("lot.assay", body, prev=prev)

    def adjust(self, lot: str, *, mass_kg: str, reason: str) -> Receipt:
        return self.submit("lot.adjust", {"lot": lot, "mass_kg": mass_kg, "reason": reason})

    def attest(
        self, lot: str, *, scheme: str, statement: str, expires: str | None = None
    ) -> Receipt:
        body: dict[str, Any] = {"lot": lot, "scheme": scheme, "statement": statement}
        if expires is not None:
            body["expires"] = expires
        return self.submit("lot.attest", body)

    def allocate(self, lot: str, *, site: str, element: str, category: str, kg: str) -> Receipt:
        return self.submit(
            "credit.allocate",
            {"lot": lot, "site": site, "element": element, "category": category, "kg": kg},
        )

    def register_party(
        self,
        party: str,
        *,
        name: str,
        country: str,
        roles: Sequence[str],
        key: Ed25519PrivateKey,
        feoc: bool = False,
    ) -> Receipt:
        """(operator) Register a party with its first key."""
        return self.submit(
            "party.register",
            {
                "party": {
                    "id": party,
                    "name": name,
                    "country": country,
                    "roles": list(roles),
                    "feoc": feoc,
                },
                "keys": [_key_obj(key)],
            },
        )

    def add_key(self, key: Ed25519PrivateKey, *, party: str | None = None) -> Receipt:
        return self.submit("key.add", {"party": party or self.party, "key": _key_obj(key)})

    def revoke_key(
        self,
        kid: str,
        *,
        reason: str,
        party: str | None = None,
        compromised_since: str | None = None,
    ) -> Receipt:
        body: dict[str, Any] = {"party": party or self.party, "kid": kid, "reason": reason}
        if compromised_since is not None:
            body["compromised_since"] = compromised_since
        return self.submit("key.revoke", body)

    # ------------------------------------------------------------------ reads
    def lot(self, lot: str) -> dict[str, Any]:
        return dict(self._get(f"/v1/lots/{_quote(lot)}"))

    def lots(
        self,
        *,
        custodian: str | None = None,
        status: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        return dict(
            self._get("/v1/lots", custodian=custodian, status=status, after=after, limit=limit)
        )

    def lot_events(self, lot: str) -> list[dict[str, Any]]:
        return list(self._get(f"/v1/lots/{_quote(lot)}/events")["items"])

    def provenance(self, lot: str) -> dict[str, Any]:
        return dict(self._get(f"/v1/lots/{_quote(lot)}/provenance"))

    def bundle(self, lot: str) -> dict[str, Any]:
        return dict(self._get(f"/v1/lots/{_quote(lot)}/bundle"))

    def recycled_content(self, lot: str, as_of: date | str | None = None) -> dict[str, Any]:
        """The SPEC §7 report of ``lot``, rule packs evaluated on ``as_of`` (default: today)."""
        day = as_of.isoformat() if isinstance(as_of, date) else as_of
        return dict(self._get(f"/v1/lots/{_quote(lot)}/recycled-content", as_of=day))

    def event(self, event_hash: str) -> dict[str, Any]:
        return dict(self._get(f"/v1/events/{event_hash}"))

    def party_info(self, party: str) -> dict[str, Any]:
        return dict(self._get(f"/v1/parties/{party}"))

    def parties(self) -> list[dict[str, Any]]:
        return list(self._get("/v1/parties", limit=1000)["items"])

    def checkpoint(self) -> str:
        return self._request("GET", "/v1/log/checkpoint").text

    def inclusion_proof(self, event_hash: str, size: int | None = None) -> dict[str, Any]:
        return dict(self._get("/v1/log/proof/inclusion", hash=event_hash, size=size))

    def consistency_proof(self, size1: int, size2: int) -> dict[str, Any]:
        return dict(self._get("/v1/log/proof/consistency", **{"from": size1, "to": size2}))

    def issue_certificate(
        self, lot: str, *, model: str | None = None, as_of: str | None = None
    ) -> dict[str, Any]:
        """Issue a recycled-content certificate (the signed credential)."""
        body: dict[str, Any] = {"lot": lot}
        if model is not None:
            body["model"] = model
        if as_of is not None:
            body["as_of"] = as_of
        return dict(self._request("POST", "/v1/certificates", json=body).json())

    def certificate(self, cert_id: str, fmt: str = "json") -> Any:
        """A stored certificate: ``json`` (dict), ``pdf`` (bytes) or ``html`` (text)."""
        path = f"/v1/certificates/{quote(cert_id, safe=':')}"
        if fmt == "json":
            return self._request("GET", path).json()
        r = self._request("GET", f"{path}.{fmt}")
        return r.content if fmt == "pdf" else r.text

    def verify_certificate(
        self, credential: Mapping[str, Any], bundle: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Ask the server to verify a certificate (public; the offline check is
        ``ledger.certificates.verify_certificate``)."""
        body: dict[str, Any] = {"credential": dict(credential)}
        if bundle is not None:
            body["bundle"] = dict(bundle)
        return dict(self._request("POST", "/v1/certificates/verify", json=body).json())

    def create_token(self, party: str, role: str) -> str:
        """(admin) Issue a token for a party."""
        return str(
            self._request("POST", "/v1/tokens", json={"party": party, "role": role}).json()["token"]
        )

    def health(self) -> dict[str, Any]:
        return dict(self._get("/healthz"))


def _quote(lot: str) -> str:
    """A lot id in a URL path: ``:`` and ``/`` stay, ``#`` and the rest are escaped; a final
    ``/events``, ``/provenance``, ``/bundle`` or ``/recycled-content`` that belongs to the id
    has its slash escaped so the server does not take it for the route."""
    path = "/".join(
        seg.replace(".", "%2E") if seg in (".", "..") else seg  # httpx would collapse them
        for seg in quote(lot, safe=":/").split("/")
    )
    head, sep, word = path.rpartition("/")
    if sep and word in ("events", "provenance", "bundle", "recycled-content"):
        path = f"{head}%2F{word}"
    return path


def _key_obj(key: Ed25519PrivateKey) -> dict[str, str]:
    pub = public_raw(key)
    return {"kid": kid_of(pub), "alg": "Ed25519", "pub": b64url_encode(pub)}
