"""One router per resource. Each imports what it shares from ``api.deps``, never another route."""

__all__: list[str] = []
