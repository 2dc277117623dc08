"""What a principal may see and do: the calls the JSON API (``api/routes``) and the console
(``api/console``) both make, so that one token is shown the same thing by both.

Each function takes the app state and the caller's :class:`Principal`, applies the partner
visibility rule of spec §9.4 (through :func:`api.deps.as_seen` and :func:`api.deps.view_of`) and
returns the API's response model. A read the caller may not make raises 404 ``not_found``
exactly as the API does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from ledger.client.models import (
    CertificateList,
    CertificateSummary,
    ChainItem,
    ChainOut,
    LotList,
    LotOut,
    PartyList,
    PartyOut,
    ProvenanceOut,
)
from ledger.core.events import SignedEvent
from ledger.core.keys import Ed25519PrivateKey
from ledger.errors import NotFound
from ledger.service import LotFilter
from ledger.service.certificates import CertificateRecord
from ledger.service.settings import DEMO_PUBLIC_URL
from ledger.service.tokens import Principal

from .convert import lot_out, party_out
from .deps import AppState, as_seen, lot_state, view_of
from .problems import HttpProblem

__all__ = [
    "attest_key",
    "bundle_json",
    "certificate_within",
    "certificates_page",
    "chain_of",
    "check_may_certify",
    "credential_json",
    "issue_certificate",
    "issuer_name",
    "lot_of",
    "lots_page",
    "may_see_event",
    "parties_page",
    "party_of",
    "provenance_of",
    "public_base",
    "public_url_of",
    "recent_events",
    "recycled_of",
    "stored_certificate",
]


# ------------------------------------------------------------------------------- lots
def lots_page(
    state: AppState,
    principal: Principal,
    *,
    custodian: str | None = None,
    status: str | None = None,
    material: str | None = None,
    prefix: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> LotList:
    """Lots by id after ``after``, filtered; a partner's as it may see them (spec §9.4)."""
    where = LotFilter(custodian=custodian, status=status, material=material, prefix=prefix)
    if principal.role in ("auditor", "admin"):
        items = state.ledger.list_lots(after=after, limit=limit, where=where)
    else:
        # the partner's view, each lot as the partner may see it, filtered on that state
        # (spec §9.4): one bounded query on the visibility index
        rows = state.ledger.visible_lots(principal.party, after=after, limit=limit, where=where)
        items = [lot for lot, _ in rows]
    return LotList(
        items=[lot_out(x) for x in items], next=items[-1].lot if len(items) == limit else None
    )


def lot_of(state: AppState, principal: Principal, lot: str) -> LotOut:
    """One lot as the principal may see it."""
    return lot_out(as_seen(state, principal, lot, lambda cut: lot_state(state, lot, cut)))


def chain_of(state: AppState, principal: Principal, lot: str) -> ChainOut:
    """The lot's chain up to the principal's cut-off."""
    return ChainOut(
        items=as_seen(
            state,
            principal,
            lot,
            lambda cutoff: [
                ChainItem(seq=seq, hash=ev.hash, event=dict(ev.envelope))
                for seq, ev in state.ledger.chain(lot)
                if cutoff is None or seq <= cutoff
            ],
        )
    )


def provenance_of(state: AppState, principal: Principal, lot: str) -> ProvenanceOut:
    """The upstream graph, each lot as of the principal's cut-off."""
    graph = as_seen(
        state, principal, lot, lambda _: state.ledger.provenance(lot, view_of(state, principal))
    )
    return ProvenanceOut(**graph)


def recycled_of(state: AppState, principal: Principal, lot: str, day: date) -> dict[str, Any]:
    """The spec §7 report (compliance evaluated on ``day``) up to the principal's cut-off."""
    return as_seen(
        state, principal, lot, lambda cut: state.ledger.recycled_content(lot, as_of=day, upto=cut)
    )


# ------------------------------------------------------------------------------- events
def may_see_event(view: Mapping[str, int | None] | None, seq: int, event: SignedEvent) -> bool:
    """Whether a principal with ``view`` (None: reads everything) may read the event at
    ``seq``: one that names no lot (the party directory) always; otherwise one of its lots
    must be in the view up to ``seq`` (spec §9.4)."""
    if view is None:
        return True
    lots = (*event.lots_touched, *event.lots_created)
    if not lots:
        return True
    for lot in lots:
        if lot in view:
            cutoff = view[lot]
            if cutoff is None or seq <= cutoff:
                return True
    return False


def recent_events(
    state: AppState, principal: Principal, *, limit: int = 20, scan: int = 2000
) -> list[tuple[int, SignedEvent]]:
    """The newest events the principal may read, newest first: at most ``limit``, looking at
    most ``scan`` entries back (a partner that sees little of a busy log sees fewer)."""
    size = state.ledger.size()
    view = view_of(state, principal)
    out: list[tuple[int, SignedEvent]] = []
    end = size
    while end > 0 and len(out) < limit and size - end < scan:
        start = max(0, end - 200, size - scan)
        for seq, ev in reversed(state.ledger.events(range(start, end))):
            if may_see_event(view, seq, ev):
                out.append((seq, ev))
                if len(out) == limit:
                    break
        end = start
    return out


# ------------------------------------------------------------------------------ parties
def parties_page(state: AppState, *, after: str | None = None, limit: int = 100) -> PartyList:
    """The party directory (every token may read it) with key histories."""
    parties = state.ledger.list_parties(after=after, limit=limit)
    items = [party_out(p, state.ledger.party_keys(p.id)) for p in parties]
    return PartyList(items=items, next=items[-1].id if len(items) == limit else None)


def party_of(state: AppState, party_id: str) -> PartyOut:
    """A party and its key history (raises NotFound)."""
    return party_out(state.ledger.party(party_id), state.ledger.party_keys(party_id))


# ------------------------------------------------------------------------- certificates
def attest_key(state: AppState) -> Ed25519PrivateKey:
    """The attestation key (503 ``storage_error`` when this server has none)."""
    if state.attest_key is None:
        raise HttpProblem(
            "storage_error",
            "this ledger has no attestation key (attest.pem in "
            "LEDGER_KEY_DIR); certificates cannot be issued",
        )
    return state.attest_key


def public_base(state: AppState) -> str | None:
    """Where strangers reach this server: ``LEDGER_PUBLIC_URL``; in demo mode without it,
    ``ledger serve``'s default address; otherwise None (no certificate can be issued). Never
    the request's Host header: a caller would choose where a signed certificate points."""
    if state.settings.public_url:
        return state.settings.public_url
    if state.settings.demo:
        return DEMO_PUBLIC_URL
    return None


def issuer_name(state: AppState) -> str | None:
    """The certificates' ``issuer.name``: ``LEDGER_ISSUER_NAME``, else the registered display
    name of the party that founded the ledger (its genesis ``party.register``, the operator)."""
    if state.settings.issuer_name:
        return state.settings.issuer_name
    if state.ledger.size() == 0:
        return None
    (_, genesis), *_ = state.ledger.events(range(1))
    try:
        return state.ledger.party(genesis.actor).name
    except NotFound:  # pragma: no cover - a genesis event registers its actor (spec §4.2)
        return None


def credential_json(record: CertificateRecord) -> dict[str, Any]:
    """The stored credential, parsed."""
    found: dict[str, Any] = json.loads(record.credential)
    return found


def bundle_json(record: CertificateRecord) -> dict[str, Any]:
    """The stored audit bundle the certificate was computed from, parsed."""
    found: dict[str, Any] = json.loads(record.bundle)
    return found


def public_url_of(state: AppState, base_url: str, record: CertificateRecord) -> str:
    """The certificate's public page: its credential id, or for certificates issued before
    public URLs (``urn:uuid:`` ids) the page this server (at ``base_url``) would give it."""
    credential_id = credential_json(record).get("id")
    if isinstance(credential_id, str) and credential_id.startswith(("https://", "http://")):
        return credential_id
    base = public_base(state) or base_url.rstrip("/")
    return f"{base}/c/{record.id.removeprefix('urn:uuid:')}"


def certificate_within(view: Mapping[str, int | None], record: CertificateRecord) -> bool:
    """Whether a partner's view holds what the certificate was computed from (spec §9.4): the
    lot, and every event of its chain in the certificate's bundle (a certificate of an upstream
    lot issued after the partner's cut-off tells of history the partner may not see)."""
    lot = record.lot
    if lot not in view:
        return False
    cut = view[lot]
    if cut is None:
        return True
    # the events after the lot's creation on its chain are those whose prev names it (§3.7);
    # its creation precedes every cut-off
    return not any(
        entry.get("seq", 0) > cut and lot in entry.get("event", {}).get("prev", {})
        for entry in bundle_json(record).get("entries", ())
    )


def stored_certificate(state: AppState, principal: Principal, cert_id: str) -> CertificateRecord:
    """A certificate the principal may read (404 otherwise)."""
    record = state.ledger.certificates.record(cert_id)
    view = view_of(state, principal)
    if view is not None and not certificate_within(view, record):
        raise HttpProblem("not_found", f"no certificate {cert_id!r}")
    return record


def certificates_page(
    state: AppState,
    principal: Principal,
    base_url: str,
    *,
    lot: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> CertificateList:
    """Issued certificates by id after ``after``; a partner's those of lots it may read."""
    view = view_of(state, principal)
    items: list[CertificateSummary] = []
    cursor = after
    while len(items) < limit:
        page = state.ledger.certificates.list(
            lot=lot,
            after=cursor,
            limit=limit,
            seen_by=None if view is None else principal.party,
        )
        for record in page:
            if view is None or certificate_within(view, record):
                status = state.ledger.certificates.status(record.id)
                items.append(
                    CertificateSummary(
                        id=record.id,
                        url=public_url_of(state, base_url, record),
                        lot=record.lot,
                        issued_at=record.issued_at,
                        status=status.status,  # type: ignore[arg-type]
                    )
                )
                if len(items) == limit:
                    break
        if len(page) < limit:
            break
        cursor = page[-1].id
    return CertificateList(items=items, next=items[-1].id if len(items) == limit else None)


def issue_certificate(
    state: AppState,
    principal: Principal,
    lot: str,
    *,
    as_of: date | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """Sign a certificate of ``lot`` (spec §8) for the principal and return the credential
    (a partner only for a lot of its own custody history)."""
    check_may_certify(state, principal, lot)
    credential, _ = state.ledger.issue_certificate(
        lot,
        issuer_key=attest_key(state),
        public_url=public_base(state),
        issuer_name=issuer_name(state),
        as_of=as_of,
        model=model,
    )
    return credential


def check_may_certify(state: AppState, principal: Principal, lot: str) -> None:
    """A partner certifies only lots of its own custody history (404 otherwise, as for a lot
    that does not exist)."""
    view = view_of(state, principal)
    if view is not None and view.get(lot, -1) is not None:
        raise HttpProblem(
            "not_found",
            f"no lot {lot!r} in this ledger (or not in {principal.party!r}'s custody history)",
        )
