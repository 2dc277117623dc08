"""The web console (issue 12, spec §9.10), served at ``/`` by the API's app.

:mod:`.routes` are its pages and forms, :mod:`.pages` the data each page shows (read through
:mod:`api.views`, as the API reads it) and its Jinja2 templates (``templates/``), :mod:`.graphics`
the server-side SVG of provenance graphs and share charts, :mod:`.i18n` its words in English
and Korean, :mod:`.sessions` the sign-in sessions. Its script and stylesheet are
``api/static/console``; the in-browser verifier it runs is ``api/static/verify``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from . import pages
from .routes import PAGE_HEADERS, NotSignedIn, router, sign_in_response

__all__ = ["install", "problem_page"]


class _Static(StaticFiles):
    """The console's assets, with the pages' security headers (``nosniff`` matters most for
    the verifier's scripts); revalidated (ETag) rather than never stored."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update({**PAGE_HEADERS, "Cache-Control": "no-cache"})
        return response


def install(app: FastAPI) -> None:
    """Add the console's routes, its static assets (``/static``) and its sign-in answer."""
    app.include_router(router)
    app.mount("/static", _Static(packages=[("api", "static")]), name="static")

    @app.exception_handler(NotSignedIn)
    async def _sign_in(request: Request, exc: NotSignedIn) -> HTMLResponse:
        return sign_in_response(request, status=401)


def is_console(request: Request) -> bool:
    """Whether a request is for a console page (its errors are HTML pages)."""
    path = request.url.path
    return path == "/" or path.startswith("/console/")


def problem_page(request: Request, body: dict[str, object]) -> HTMLResponse | None:
    """A problem (RFC 9457 members) as a console page, for a console request; else None."""
    if not is_console(request):
        return None
    ctx = pages.Context.of(request, principal=None, csrf="")
    status = int(str(body["status"]))
    return HTMLResponse(
        pages.render("error.html", ctx, problem=body), status_code=status, headers=PAGE_HEADERS
    )
