"""``ledger serve``'s processes: the node's sequencer first, then one or N HTTP workers.

The sequencer (``ledger.service.sequencer``) is the node's single writer; it is started
before any worker and stopped after the last one, and its Unix socket lives in a private
folder (mode 0700) removed at exit. When the sequencer dies, the server stops (it never serves
writes it cannot commit); when the server dies, even by ``kill -9``, the sequencer sees its
standard input close, commits what it was given and exits.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from ..service.sequencer import READY, serve

__all__ = ["Sequencer", "sequencer_main", "sequencer_process", "serve_one", "serve_workers"]


def sequencer_main() -> None:
    """The sequencer process (its one argument: the socket path); settings from ``LEDGER_*``."""
    from ..errors import LedgerError
    from ..service.settings import Settings, open_ledger
    from ..service.writer import Writer

    # Ctrl-C and a service manager's SIGTERM reach the whole process group: the sequencer
    # stops only when its server is gone (stdin closes), after the workers' last appends
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    path = sys.argv[1]
    try:
        ledger = open_ledger(Settings(sequencer=None))
    except LedgerError as e:
        typer.echo(f"error: {e}", err=True)
        raise SystemExit(2) from e  # a usage error, as the command line's `fail`
    ledger.start_witnessing()
    stop = threading.Event()

    def watch_parent() -> None:
        sys.stdin.buffer.read()  # returns at EOF: the node's server is gone
        stop.set()

    threading.Thread(target=watch_parent, name="sequencer-parent", daemon=True).start()
    try:
        assert isinstance(ledger.writer, Writer)
        serve(
            path,
            ledger.writer,
            stop,
            ready=lambda: print(READY, flush=True),
            status=ledger.witnessing.witness_states,  # memory only: no database read
        )
    finally:
        ledger.close()  # commits what was queued, then closes the database


@dataclass
class Sequencer:
    """A running sequencer: its socket, and what to do if it dies while the server serves
    (by default SIGTERM to this process; a one-worker server asks its uvicorn to exit)."""

    path: str
    on_death: Callable[[], None] = field(default=lambda: os.kill(os.getpid(), signal.SIGTERM))


def _socket_folder() -> Path:
    """A new private folder (mode 0700) whose socket path fits AF_UNIX's ~108 bytes."""
    folder = Path(tempfile.mkdtemp(prefix="ltl-seq-"))
    if len(str(folder / "sequencer.sock")) < 100:
        return folder
    folder.rmdir()
    return Path(tempfile.mkdtemp(prefix="ltl-seq-", dir="/tmp"))


@contextmanager
def sequencer_process() -> Iterator[Sequencer]:
    """Start this node's sequencer with the settings of ``LEDGER_*``; yield it (its socket is
    also set as ``LEDGER_SEQUENCER`` for the workers).

    Raises:
        typer.Exit: the sequencer could not open the ledger (its error is printed above), or
            it died while serving (exit 1, after the server stopped).
    """
    folder = _socket_folder()
    node = Sequencer(str(folder / "sequencer.sock"))
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_SEQUENCER"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from ledger.cli.serving import sequencer_main; sequencer_main()",
            node.path,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        line = proc.stdout.readline().strip()
        if line != READY:
            proc.wait()
            typer.echo(
                f"error: the sequencer did not start (exit {proc.returncode}); "
                "its error is printed above",
                err=True,
            )
            raise typer.Exit(proc.returncode or 1)
        stopping, died = threading.Event(), threading.Event()

        def watch() -> None:
            code = proc.wait()
            if not stopping.is_set():
                died.set()
                typer.echo(
                    f"error: the sequencer exited (code {code}); stopping the server so that "
                    "no write is accepted that cannot be committed",
                    err=True,
                )
                node.on_death()

        threading.Thread(target=watch, name="sequencer-watch", daemon=True).start()
        os.environ["LEDGER_SEQUENCER"] = node.path
        try:
            yield node
        finally:
            stopping.set()
            os.environ.pop("LEDGER_SEQUENCER", None)
        if died.is_set():
            raise typer.Exit(1)  # stopped because the sequencer died: not a clean exit
    finally:
        proc.stdin.close()  # the sequencer commits what it was given and exits
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


def serve_one(app: Any, node: Sequencer, *, host: str, port: int) -> None:
    """Serve ``app`` in this process; if the sequencer dies, uvicorn stops gracefully (so the
    sequencer's context exits 1 and cleans up, rather than the process dying of SIGTERM)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))

    def stop() -> None:
        server.should_exit = True

    node.on_death = stop
    server.run()


def serve_workers(app: str, *, workers: int, host: str, port: int, factory: bool = False) -> None:
    """Run the ASGI app ``app`` (an import string) in ``workers`` uvicorn processes sharing
    one listening socket.

    uvicorn binds that socket without naming TCP as its protocol, so asyncio does not switch
    Nagle's algorithm off on the connections it accepts, and every keep-alive response waits
    for the client's delayed ACK (~40 ms on Linux: one worker served ~3,900 requests/s where
    two served ~700). Here the listening socket has ``TCP_NODELAY``, which accepted
    connections inherit.
    """
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        app, factory=factory, workers=workers, host=host, port=port, log_level="warning"
    )
    sock = config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    Multiprocess(config, sockets=[sock]).run()
