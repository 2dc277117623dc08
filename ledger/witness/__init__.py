"""A C2SP tlog-witness (spec §5 "Witnesses"): ``POST /add-checkpoint`` cosigns checkpoints that
are consistent with the latest one it cosigned for their log, kept in its own store."""

__all__: list[str] = []
