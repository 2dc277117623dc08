"""The offline verifier: an audit bundle and a log key in, a report out (spec §6).

Built on ``ledger.core`` alone, so an auditor's verification shares no code with the server
beyond the formats and rules themselves.
"""

__all__: list[str] = []
