"""The custody and mass state machine of spec §4 and §7: pure, no I/O, no clock.

The server and the offline verifier run the same code: ``apply(view, event, seq=, now=)`` reads
the state through a :class:`StateView` and returns a :class:`Delta` (the new value of every
record the event changed) or raises :class:`~ledger.errors.RuleViolation` with the spec code.

Choices (made where the original SPEC was silent; normative in docs/spec.md):
    * Signer: a kid registered to a party other than the actor is ``unknown_key``. ``key.add``,
      ``key.revoke`` and ``party.register`` may be signed by an operator for another party
      (always with the operator's own key). The genesis (empty ledger) must be the operator's
      self-signed ``party.register``; anything else first is ``forbidden``.
    * Check order: signer (``unknown_party``/``unknown_key``/``key_revoked``), signature,
      clock skew (``bad_time``), role (``forbidden``), then per touched lot ``unknown_lot``,
      ``stale_head``, per-lot ``bad_time``, then ``lot_exists`` for new lots, then custody
      (``not_custodian``, ``in_transit``), amounts (``overdraw``), conservation, credits.
    * Re-registering a party id or a kid, and registering a small-order or non-canonical
      public key, are ``invalid_event``; revoking an already revoked key is ``key_revoked``.
    * ``lot.ship`` moves the whole lot: more than it holds is ``overdraw``, less is
      ``invalid_event`` (split first). The receiver must be registered (``unknown_party``).
      While in transit the shipper stays custodian; ship, transform, adjust and allocate are
      ``in_transit``; ``lot.assay`` and ``lot.attest`` are allowed (no custody change).
    * ``lot.receive``: by anyone but the ship's ``to`` is ``forbidden``; naming another event
      than the pending ship is ``invalid_event``; more than shipped is ``overdraw``; ``"0"``
      (total loss) leaves the lot ``consumed``.
    * ``lot.assay`` by a party that is neither custodian nor lab is ``not_custodian``.
      ``lot.adjust`` above the current mass is ``mass_not_conserved``; equal is allowed.
    * A consumed lot (mass 0) can still be assayed, attested and adjusted to 0; shipping or
      consuming it is ``overdraw``.
    * A lot's site is where it was made (``lot.create`` or the transform); ship and receive do
      not move it. ``credit.allocate`` ``site`` must equal it (else ``invalid_event``).
    * Shares (spec §7): blended element shares are unknown when any input composition, or the
      share of any input holding the element, is unknown, or when no input holds it. Outputs
      without composition have no element shares. An assay keeps known element shares; a newly
      listed element gets the source share for a ``lot.create`` lot, 0 for a mass-balance
      output and unknown for a blended output. The element check of mass conservation is
      skipped entirely when any input composition is unknown.
    * Mass balance: credits per element listed in an output composition = output element mass
      × recycled element mass consumed ÷ element mass consumed, rounded DOWN to 6 decimals (so
      credits are exact decimals and never created from rounding); no credit for an element
      whose input shares are unknown. Account site = the transform site's name or ``""``.
    * ``duplicate_id`` needs the set of accepted ids, which ``StateView`` does not expose:
      the store checks it (and :class:`MemoryState.accept`, which treats the same id with the
      same bytes as an idempotent no-op).
    * ``credit.allocate``: the lot needs a known composition listing the element and a known
      element share; ``kg`` may not exceed the lot's virgin element mass nor its virgin mass
      overall (so shares never exceed 1), else ``overdraw``. The element share grows by
      kg / element mass and the mass share by kg / lot mass.
"""

from __future__ import annotations

from .engine import apply, check_signer
from .memory import MemoryState
from .records import (
    Account,
    Delta,
    Key,
    Lot,
    Party,
    RuleConfig,
    Shares,
    StateView,
    format_decimal,
    format_fraction,
    format_share,
    parse_fraction,
    share_report,
)

__all__ = [
    "Account",
    "Delta",
    "Key",
    "Lot",
    "MemoryState",
    "Party",
    "RuleConfig",
    "Shares",
    "StateView",
    "apply",
    "check_signer",
    "format_decimal",
    "format_fraction",
    "format_share",
    "parse_fraction",
    "share_report",
]
