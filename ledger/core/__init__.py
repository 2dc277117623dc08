"""The pure core of LTL/1: the formats and rules every party computes the same way.

Canonical JSON (RFC 8785), Ed25519 keys, scalar values and the event schema, the signed event,
the RFC 9162 Merkle tree, C2SP signed notes and checkpoints, the custody/mass state machine
(``rules``) and the pure derivations of an event (``custody``). Nothing here does I/O, reads a
clock, starts a thread or knows about SQL or HTTP; it imports nothing of ``ledger`` but itself
and ``ledger.errors`` (tests/test_architecture.py enforces it).
"""

__all__: list[str] = []
