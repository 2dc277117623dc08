"""The transport under the SDK: one httpx client, problem+json errors, typed answers."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from .errors import ApiError, ClientError, NetworkError

__all__: list[str] = []

_M = TypeVar("_M", bound=BaseModel)
#: route words that follow a lot id in a path (``/v1/lots/{lot}/<word>``)
_LOT_ROUTE_WORDS = ("events", "provenance", "bundle", "recycled-content")


class _Http:
    """Requests to one ledger with one token; every failure becomes a ``ClientError``."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float,
        transport: httpx.BaseTransport | None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            self._http = httpx.Client(
                base_url=url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
            )
        except (httpx.InvalidURL, TypeError, ValueError) as e:
            raise ClientError(f"{url!r} is not a ledger URL (http://host:port): {e}") from e

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kw)
        except httpx.InvalidURL as e:  # e.g. control characters in a lot id or hash
            raise ClientError(f"cannot build a request for {path!r}: {e}") from e
        except httpx.HTTPError as e:  # transport failures: nothing was answered
            raise NetworkError(f"cannot reach the ledger at {self._http.base_url}: {e}") from e
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                body = {"code": "http_error", "detail": response.text[:500]}
            raise ApiError(
                response.status_code,
                str(body.get("code", "http_error")),
                str(body.get("detail", "")),
                body,
            )
        return response

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as e:
            raise _unexpected(response, "not JSON") from e

    def _object(self, response: httpx.Response) -> dict[str, Any]:
        """The answer as a JSON object, kept exactly as sent (credentials: their proof covers
        the exact document)."""
        body = self._json(response)
        if not isinstance(body, dict):
            raise _unexpected(response, "not a JSON object")
        return body

    def _model(self, model: type[_M], method: str, path: str, **kw: Any) -> _M:
        """The answer to a request, parsed into ``model``."""
        return self._parse(model, self._request(method, path, **kw))

    def _parse(self, model: type[_M], response: httpx.Response) -> _M:
        """A success answer parsed into ``model`` (an ``ApiError`` when it does not fit)."""
        try:
            return model.model_validate(self._json(response))
        except ValidationError as e:
            raise _unexpected(response, f"not a {model.__name__}: {e}") from e

    def _get(self, model: type[_M], path: str, **params: Any) -> _M:
        clean = {k: v for k, v in params.items() if v is not None}
        return self._model(model, "GET", path, params=clean)


def _unexpected(response: httpx.Response, what: str) -> ApiError:
    return ApiError(
        response.status_code,
        "invalid_response",
        f"the ledger's answer to {response.request.method} {response.request.url.path} is "
        f"{what}; is the URL a ledger server of this version?",
        {},
    )


def lot_path(lot: str) -> str:
    """A lot id in a URL path: ``:`` and ``/`` stay, ``#`` and the rest are escaped; a final
    ``/events``, ``/provenance``, ``/bundle`` or ``/recycled-content`` that belongs to the id
    has its slash escaped so the server does not take it for the route."""
    path = "/".join(
        seg.replace(".", "%2E") if seg in (".", "..") else seg  # httpx would collapse them
        for seg in quote(lot, safe=":/").split("/")
    )
    head, sep, word = path.rpartition("/")
    if sep and word in _LOT_ROUTE_WORDS:
        path = f"{head}%2F{word}"
    return path
