"""The ledger service: the :class:`Ledger` facade over one database, split by job.

``ledger.py`` (the facade), ``writer.py`` (the single writer: group commit, typed caches),
``reads.py`` (state and chains), ``log.py`` (checkpoints and proofs), ``bundles.py`` (audit
bundles), ``provenance.py`` (upstream graphs, partner views), ``sources.py`` (report sources),
``fsck.py`` (re-derivation), ``tokens.py`` (API tokens), ``settings.py`` (configuration).
"""

from ..store.protocol import LotFilter
from .ledger import Ledger

__all__ = ["Ledger", "LotFilter"]
