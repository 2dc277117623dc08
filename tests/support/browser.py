"""Browser fixtures (a pytest plugin, registered in ``tests/conftest.py``): a real headless
Chromium driven by Playwright, screenshots kept as test artifacts, QR codes read from them.

The browser is the system's Chromium (``LEDGER_CHROMIUM``, else ``/usr/bin/chromium``, else
``chromium`` on PATH): ``scripts/test`` installs Debian's package; Playwright's own browser
download (``playwright install``) is never used. Without a browser the tests are skipped with
how to install one, except under ``CI`` or ``LEDGER_REQUIRE_BROWSER=1``, where they FAIL (as
``LEDGER_REQUIRE_POSTGRES`` does for PostgreSQL). One browser per session; a test makes its own
context (cookies, headers) with ``browser.new_context(...)`` and closes it.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

__all__ = ["INSTALL_HINT", "artifacts", "browser", "chromium_path", "decode_qr"]

REQUIRE_BROWSER = bool(os.environ.get("CI") or os.environ.get("LEDGER_REQUIRE_BROWSER"))
INSTALL_HINT = (
    "install Chromium with `sudo apt-get install --no-install-recommends chromium "
    "fonts-noto-cjk` (scripts/test does it when run as root), or set LEDGER_CHROMIUM to a "
    "Chromium binary; `pip install -e .[test]` for Playwright"
)
#: ``--no-sandbox``: Chromium refuses to start as root (CI containers) with its sandbox, and
#: this browser opens only the test server's pages. ``--disable-dev-shm-usage``: containers
#: give /dev/shm 64 MB, too little for a renderer.
LAUNCH_ARGS = ("--no-sandbox", "--disable-dev-shm-usage")


def chromium_path() -> str | None:
    """The Chromium binary to drive: ``LEDGER_CHROMIUM``, ``/usr/bin/chromium``, or
    ``chromium`` on PATH (None when there is none)."""
    configured = os.environ.get("LEDGER_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def _unavailable(why: str) -> NoReturn:
    message = f"browser tests: {why}; {INSTALL_HINT}"
    if REQUIRE_BROWSER:
        pytest.fail(f"{message} (CI or LEDGER_REQUIRE_BROWSER is set: no skipping)")
    pytest.skip(f"{message} — SKIPPED")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """A headless Chromium for the whole session (Playwright's sync API)."""
    executable = chromium_path()
    if executable is None:
        where = os.environ.get("LEDGER_CHROMIUM") or "/usr/bin/chromium or chromium on PATH"
        _unavailable(f"no Chromium at {where}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(LAUNCH_ARGS)
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str, bytes], Path]:
    """``save(name, data)``: write a file (a screenshot, a page) into the test's ``tmp_path``
    and, when ``LEDGER_TEST_ARTIFACTS`` is set, into a folder named after the test there (for
    CI to upload). Returns the ``tmp_path`` copy."""
    folder = os.environ.get("LEDGER_TEST_ARTIFACTS")
    extra = Path(folder) / re.sub(r"[^\w.-]+", "_", request.node.nodeid) if folder else None

    def save(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        if extra is not None:
            extra.mkdir(parents=True, exist_ok=True)
            (extra / name).write_bytes(data)
        return path

    return save


def decode_qr(png: bytes) -> list[str]:
    """The texts of every QR code in a PNG image (a screenshot)."""
    import zxingcpp
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    return [code.text for code in found]
