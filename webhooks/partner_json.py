"""One HTTP call to a partner's JSON API (Graph, Twilio Content): its status and body.

Partners answer errors with JSON or, behind a proxy, with HTML; a body that is not JSON
reads as None, so each caller decides from the status and one parsed value. Connection
errors and timeouts propagate: each caller names the partner in its own exception.
"""

from __future__ import annotations

from typing import Any

import aiohttp


async def call_json(session: aiohttp.ClientSession, method: str, url: str,
                    **kw: Any) -> tuple[int, Any]:
    """``(status, parsed JSON or None)`` of one request."""
    async with session.request(method, url, **kw) as response:
        try:
            return response.status, await response.json(content_type=None)
        except ValueError:
            return response.status, None
