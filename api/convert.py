"""Domain values (``ledger.core.rules`` records) to API response models."""

from __future__ import annotations

import base64

from ledger.client.models import KeyOut, LotOut, PartyOut, SharesOut, SiteOut
from ledger.core.rules import Key, Lot, Party, format_decimal, share_report

__all__ = ["b64", "key_out", "lot_out", "party_out"]


def b64(hashes: list[bytes]) -> list[str]:
    """Proof hashes as standard base64 (spec §5)."""
    return [base64.b64encode(h).decode("ascii") for h in hashes]


def lot_out(lot: Lot) -> LotOut:
    return LotOut(
        lot=lot.lot,
        material=lot.material,
        mass_kg=format_decimal(lot.mass),
        custodian=lot.custodian,
        status=lot.status,  # type: ignore[arg-type]
        head=lot.head,
        created_seq=lot.created_seq,
        time=lot.time,
        composition=None
        if lot.composition is None
        else {e: format_decimal(f) for e, f in lot.composition.items()},
        source=lot.source,
        site=SiteOut(country=lot.site_country, name=lot.site_name),
        model=lot.model,
        transit_to=lot.transit_to,
        transit_ship=lot.transit_ship,
        parents=list(lot.parents),
        shares=SharesOut(**share_report(lot.mass_shares)),
        element_shares=None
        if lot.element_shares is None
        else {
            e: None if s is None else SharesOut(**share_report(s))
            for e, s in lot.element_shares.items()
        },
    )


def key_out(key: Key) -> KeyOut:
    return KeyOut(
        kid=key.kid,
        pub=base64.urlsafe_b64encode(key.pub).rstrip(b"=").decode("ascii"),
        added_seq=key.added_seq,
        revoked_seq=key.revoked_seq,
        compromised_since=key.compromised_since,
    )


def party_out(party: Party, keys: list[Key]) -> PartyOut:
    return PartyOut(
        id=party.id,
        name=party.name,
        country=party.country,
        roles=sorted(party.roles),
        feoc=party.feoc,
        registered_seq=party.seq,
        keys=[key_out(k) for k in keys],
    )
