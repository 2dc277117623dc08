"""The console's pages: escaped string templates, no script, no style, no external URL."""

from __future__ import annotations

from html import escape

__all__ = ["overview_page", "sign_in_page"]

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — LTL ledger console</title>
</head>
<body>
<header><h1>LTL ledger console</h1></header>
<main>
{body}
</main>
</body>
</html>
"""


def _page(title: str, body: str) -> str:
    return _PAGE.format(title=escape(title), body=body)


def sign_in_page(csrf: str, error: str | None = None) -> str:
    """The sign-in form (the token is never echoed back)."""
    alert = f'<p role="alert" id="error">{escape(error)}</p>\n' if error else ""
    return _page(
        "Sign in",
        f"""<h2>Sign in</h2>
{alert}<form method="post" action="/console/sign-in">
<input type="hidden" name="csrf" value="{escape(csrf)}">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Sign in</button>
</form>""",
    )


def overview_page(*, csrf: str, party: str, role: str, log_size: int, checkpoint_size: int) -> str:
    """What a signed-in party sees first."""
    return _page(
        "Overview",
        f"""<h2>Overview</h2>
<dl>
<dt>Party</dt><dd id="party">{escape(party)}</dd>
<dt>Role</dt><dd id="role">{escape(role)}</dd>
<dt>Log size</dt><dd id="log-size">{log_size}</dd>
<dt>Latest checkpoint size</dt><dd id="checkpoint-size">{checkpoint_size}</dd>
</dl>
<form method="post" action="/console/sign-out">
<input type="hidden" name="csrf" value="{escape(csrf)}">
<button type="submit">Sign out</button>
</form>""",
    )
