"""Signing and posting: one typed helper per event type, ``stale_head`` retries where safe."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..core import events
from ..core.keys import Ed25519PrivateKey, key_object
from ..core.receipt import Receipt
from ..core.schema import touched_lots
from ..core.values import format_time
from ..errors import LedgerError
from ._http import _Http, lot_path
from .errors import ApiError, ClientError
from .journal import Journal
from .models import BatchOut, LotOut, ReceiptOut

__all__: list[str] = []

#: Event types re-signed and retried on ``stale_head``: their meaning cannot change with the
#: lot's state (an assay replaces the composition, an attestation attaches a statement).
RETRYABLE_ON_STALE_HEAD = frozenset({"lot.assay", "lot.attest"})


class _Writes(_Http):
    party: str | None
    key: Ed25519PrivateKey | None
    retries: int
    journal: Journal | None

    def post(self, event: events.SignedEvent) -> Receipt:
        """Post one signed event (raises :class:`ApiError` when refused); journaled first."""
        if self.journal is not None:
            self.journal.append([event])
        r = self._request(
            "POST",
            "/v1/events",
            content=event.canonical,
            headers={"Content-Type": "application/json"},
        )
        rc = self._parse(ReceiptOut, r)
        return Receipt(rc.seq, rc.hash, dict(rc.lots), created=r.status_code == 201)

    def post_batch(self, batch: Sequence[events.SignedEvent]) -> list[Receipt | ApiError]:
        """Post up to 1000 events; per event a Receipt or the ApiError that refused it.
        All are journaled first."""
        if self.journal is not None:
            self.journal.append(batch)
        out = self._model(
            BatchOut,
            "POST",
            "/v1/events/batch",
            json={"events": [dict(ev.envelope) for ev in batch]},
        )
        results: list[Receipt | ApiError] = []
        for item in out.results:
            if item.receipt is not None:
                rc = item.receipt
                results.append(Receipt(rc.seq, rc.hash, dict(rc.lots), item.status == 201))
            else:
                p = item.problem
                code, detail = (p.code, p.detail) if p else ("http_error", "")
                problem = p.model_dump(exclude_unset=True) if p else {}
                results.append(ApiError(item.status, code, detail, problem))
        return results

    def heads(self, lots: Sequence[str]) -> dict[str, str]:
        """Current heads of the lots that exist (and that this token may read) among ``lots``."""
        heads: dict[str, str] = {}
        for lot in lots:
            try:
                heads[lot] = self._get(LotOut, f"/v1/lots/{lot_path(lot)}").head
            except ApiError as e:
                if e.code != "not_found":
                    raise
        return heads

    def sign(
        self,
        type: str,
        body: Mapping[str, Any],
        *,
        prev: Mapping[str, str] | None = None,
        time: str | None = None,
        actor: str | None = None,
    ) -> events.SignedEvent:
        """Sign an event as this client's party (now, unless ``time``), with the current heads
        as ``prev`` unless given.

        Raises:
            ClientError: no key to sign with, or the event would not be valid.
        """
        if self.key is None or (self.party is None and actor is None):
            raise ClientError("this client has no party key to sign with; pass party= and key=")
        try:
            if prev is None:
                prev = self.heads(touched_lots(type, body))
            return events.sign(
                type=type,
                actor=actor or str(self.party),
                key=self.key,
                body=body,
                prev=prev,
                time=time or format_time(datetime.now(UTC).replace(microsecond=0)),
            )
        except ClientError:
            raise
        except (LedgerError, KeyError, TypeError) as e:
            raise ClientError(f"cannot sign this {type}: {e}", code="invalid_event") from e

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
        """``lot.create``: a new lot held by this party."""
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
        """``lot.ship``: the whole lot, in transit to ``to``."""
        body: dict[str, Any] = {"lot": lot, "to": to, "mass_kg": mass_kg}
        if documents is not None:
            body["documents"] = [dict(d) for d in documents]
        return self.submit("lot.ship", body)

    def receive(self, lot: str, *, ship: str, mass_kg: str) -> Receipt:
        """``lot.receive``: take custody of a lot shipped to this party."""
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
        """``lot.transform``: consume inputs, make new output lots."""
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
        token (spec §9): pass ``prev={lot: head}`` as handed over by the custodian."""
        body: dict[str, Any] = {"lot": lot, "composition": dict(composition)}
        if report is not None:
            body["report"] = dict(report)
        return self.submit("lot.assay", body, prev=prev)

    def adjust(self, lot: str, *, mass_kg: str, reason: str) -> Receipt:
        """``lot.adjust``: lower a lot's mass (never raise it)."""
        return self.submit("lot.adjust", {"lot": lot, "mass_kg": mass_kg, "reason": reason})

    def attest(
        self, lot: str, *, scheme: str, statement: str, expires: str | None = None
    ) -> Receipt:
        """``lot.attest`` (auditor): attach a statement to a lot."""
        body: dict[str, Any] = {"lot": lot, "scheme": scheme, "statement": statement}
        if expires is not None:
            body["expires"] = expires
        return self.submit("lot.attest", body)

    def allocate(self, lot: str, *, site: str, element: str, category: str, kg: str) -> Receipt:
        """``credit.allocate``: move mass-balance credits to a lot of that site."""
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
                "keys": [key_object(key)],
            },
        )

    def add_key(self, key: Ed25519PrivateKey, *, party: str | None = None) -> Receipt:
        """``key.add``: a new key for this party (or, as operator, for ``party``)."""
        return self.submit("key.add", {"party": party or self.party, "key": key_object(key)})

    def revoke_key(
        self,
        kid: str,
        *,
        reason: str,
        party: str | None = None,
        compromised_since: str | None = None,
    ) -> Receipt:
        """``key.revoke``: the key signs nothing from here on."""
        body: dict[str, Any] = {"party": party or self.party, "kid": kid, "reason": reason}
        if compromised_since is not None:
            body["compromised_since"] = compromised_since
        return self.submit("key.revoke", body)

    def claim_prefixes(self, party: str, prefixes: Sequence[str]) -> Receipt:
        """``party.claim`` (operator): lot-id prefixes ``party`` owns (e.g. its GS1 company
        prefix as an EPC URN start); no other party may create lots under them."""
        return self.submit("party.claim", {"party": party, "prefixes": list(prefixes)})
