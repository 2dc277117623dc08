"""What the ``ledger`` commands share: refusals with exit codes, option helpers, the SDK."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ..core.checkpoint import Verifier

if TYPE_CHECKING:
    from ..client import LedgerClient

__all__ = ["TokenOpt", "UrlOpt", "api_call", "client", "fail", "read_text", "read_vkey"]

_T = TypeVar("_T")
UrlOpt = Annotated[str, typer.Option(envvar="LEDGER_URL", help="ledger server URL")]
TokenOpt = Annotated[str, typer.Option(envvar="LEDGER_TOKEN", help="API bearer token")]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr; the exit to raise (2: usage or input error)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def read_text(value: str) -> str:
    """An option given inline or as a file holding it."""
    path = Path(value)
    return path.read_text().strip() if path.exists() else value.strip()


def read_vkey(value: str) -> Verifier:
    """A C2SP verifier key given inline or as a file. Raises CheckpointError."""
    return Verifier.parse(read_text(value))


def client(url: str, token: str | None, **kw: Any) -> LedgerClient:
    """An SDK client for ``url`` with ``token``."""
    from ..client import LedgerClient  # not at import: ``ledger verify`` starts without it

    return LedgerClient(url, token, **kw)


def api_call(fn: Callable[[], _T]) -> _T:
    """Run an SDK call; a refusal exits 1 with the problem, any other failure (the ledger
    cannot be reached, a local refusal) exits 2 with what went wrong."""
    from ..client import ClientError
    from ..client.errors import ApiError

    try:
        return fn()
    except ApiError as e:
        raise fail(f"{e.status} {e.code}: {e.detail}", 1) from e
    except ClientError as e:
        raise fail(e.message) from e
