"""The twilio package's REST transport on aiohttp, loaded only when a message is sent."""

from __future__ import annotations

import base64
import logging
from urllib.parse import urlsplit

import aiohttp
from twilio.http import AsyncHttpClient
from twilio.http.response import Response

log = logging.getLogger("webhooks.channels.twilio")


class AiohttpTwilioClient(AsyncHttpClient):  # type: ignore[misc]
    """The twilio package's async transport on one pooled aiohttp session per adapter.

    Unlike ``AsyncTwilioHttpClient`` it takes a real ``ClientTimeout``, sends repeated
    form keys (several ``MediaUrl``), never logs at INFO, and can point at a fake API.
    """

    def __init__(self, base_url: str | None, timeout: float) -> None:
        super().__init__(log, True, timeout)
        self._base = base_url.rstrip("/") if base_url else None
        self._session: aiohttp.ClientSession | None = None

    def _target(self, url: str) -> str:
        if self._base is None:
            return url
        parts = urlsplit(url)
        return f"{self._base}{parts.path}" + (f"?{parts.query}" if parts.query else "")

    async def request(
                      self, method: str, url: str, params: dict[str, object] | None = None,
                      data: dict[str, object] | None = None,
                      headers: dict[str, str] | None = None,
                      auth: tuple[str, str] | None = None,
                      timeout: float | None = None,  # noqa: ASYNC109
                      allow_redirects: bool = False) -> Response:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        headers = dict(headers or {})
        if auth:  # aiohttp.BasicAuth is deprecated; the header is all it ever did
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        fields: list[tuple[str, str]] = []
        for key, value in (data or {}).items():
            values = value if isinstance(value, list) else [value]
            fields.extend((key, str(v)) for v in values)
        async with self._session.request(
            method.upper(), self._target(url),
            params={k: str(v) for k, v in params.items()} if params else None,
            data=fields or None,
            headers=headers, allow_redirects=allow_redirects,
            timeout=aiohttp.ClientTimeout(total=timeout or self.timeout),
        ) as response:
            return Response(response.status, await response.text(), response.headers)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
