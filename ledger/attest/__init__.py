"""Recycled content and its attestation (spec §7, §8): lineage, the report, compliance rule
packs (and their data), W3C VC 2.0 credentials, certificates and their renderings.

Built on ``ledger.core`` and ``ledger.audit``: the same code computes a report from the server's
database and from a replayed audit bundle.
"""

__all__: list[str] = []
