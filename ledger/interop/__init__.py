"""Formats of other ecosystems (issue 10): GS1 EPCIS 2.0 (the CBV 2.0 event hash, export of a
lot's history, import of an EPCIS document as signed LTL events) and the Battery Pass data model
(the Circularity aspect's recycled content).

A layer of its own, above ``attest`` (it reuses the recycled-content report) and below
``service``/``cli``/``api``: it converts documents and computes hashes; it does no I/O of its
own (callers read files and fetch lots), so everything here is testable on plain data.

* ``epcis_hash``: the GS1 CBV 2.0 event hash (``ni:///sha-256;…?ver=CBV2.0``) of EPCIS 2.0
  events in JSON-LD and XML;
* ``epcis_export``, ``epcis_import``: LTL events ⇄ EPCIS 2.0 JSON-LD;
* ``batterypass``: the ``recycledContent`` of the Battery Pass Circularity aspect 1.2.0.
"""

__all__: list[str] = []
