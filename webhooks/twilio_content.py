"""``haat templates twilio``: the shop.yaml ``templates:`` block with the Content SIDs of the
shop's approved Twilio templates, found by the names ``haat templates export`` gave them.

Twilio sends a WhatsApp template only by its Content SID (the Messages API's
``ContentSid``, ``HX…``): there is no send by name, and Twilio creates one Content per
language. Copying a SID per event and language from the Console is where mistakes happen,
so this command reads the account's Content with its WhatsApp approval
(``GET https://content.twilio.com/v1/ContentAndApprovals``, basic auth with the account SID
and auth token, pages followed by ``meta.next_page_url``), matches each exported definition
by its ``friendly_name`` (``<template>_<language>``, catalog/template_export.py), and keeps
only Content whose ``approval_requests.status`` is ``approved``. Each event keeps the Cloud
API name it is mapped to today. Sources: Twilio's Content API reference (Content and
ContentAndApprovals resources) and its WhatsApp templates guide; see docs/CHANNELS.md.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from catalog.message_templates import EVENTS
from catalog.models import Shop
from catalog.template_export import template_name, twilio_contents
from config.plugins import load
from config.settings import Settings
from webhooks.channels.twilio import TwilioConfig
from webhooks.partner_json import call_json

CONTENT_BASE_URL: Final = "https://content.twilio.com"
PAGE_SIZE: Final = 500  # Twilio's maximum is 1000
MAX_PAGES: Final = 40


class ContentLookupError(Exception):
    """The Content API could not be read (credentials, network, an error answer)."""


@dataclass(frozen=True, slots=True)
class Found:
    """One exported definition and what the account holds under its name."""

    event: str
    language: str
    friendly_name: str
    sid: str | None = None  # set only when WhatsApp approved it
    status: str = "missing"  # approved, pending, rejected…, or missing (no such Content)
    reason: str = ""  # Twilio's rejection_reason


async def account_contents(session: aiohttp.ClientSession, base_url: str,
                           account_sid: str, auth_token: str, *,
                           page_size: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """Every Content of the account with its approval, all pages."""
    url: str | None = f"{base_url.rstrip('/')}/v1/ContentAndApprovals?PageSize={page_size}"
    token = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    out: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        if url is None:
            return out
        try:
            status, data = await call_json(session, "GET", url, headers=headers)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ContentLookupError(
                f"Twilio Content API unreachable: {exc.__class__.__name__}") from exc
        if status != 200 or not isinstance(data, dict):
            code = data.get("code") if isinstance(data, dict) else None
            message = str(data.get("message", "")) if isinstance(data, dict) else ""
            raise ContentLookupError(f"Twilio Content API {status} (code {code}): "
                                     f"{message}"[:300])
        out.extend(c for c in data.get("contents") or () if isinstance(c, dict))
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        following = meta.get("next_page_url") if isinstance(meta, dict) else None
        url = str(following) if following else None
    raise ContentLookupError(f"more than {MAX_PAGES * page_size} Content resources")


def match(shop: Shop, contents: Sequence[dict[str, Any]]) -> list[Found]:
    """Each exported definition of ``shop`` against the account's Content (the newest
    approved one of a name wins, else the newest of any status)."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for content in contents:
        by_name.setdefault(str(content.get("friendly_name") or ""), []).append(content)
    found: list[Found] = []
    for definition in twilio_contents(shop):
        name = str(definition["content"]["friendly_name"])
        candidates = sorted(by_name.get(name, []),
                            key=lambda c: str(c.get("date_updated") or ""), reverse=True)
        approvals = [(c, _approval(c)) for c in candidates]
        approved = next((c for c, a in approvals if a.get("status") == "approved"), None)
        if approved is not None:
            found.append(Found(definition["event"], definition["language"], name,
                               str(approved.get("sid")), "approved"))
        elif approvals:
            _, approval = approvals[0]
            found.append(Found(definition["event"], definition["language"], name,
                               status=str(approval.get("status") or "not submitted"),
                               reason=str(approval.get("rejection_reason") or "")))
        else:
            found.append(Found(definition["event"], definition["language"], name))
    return found


def _approval(content: dict[str, Any]) -> dict[str, Any]:
    approval = content.get("approval_requests")
    return approval if isinstance(approval, dict) else {}


def yaml_block(shop: Shop, found: Sequence[Found]) -> str:
    """The ``templates:`` block: every event with its Cloud API name as mapped today and
    ``twilio: {language: HX…}`` for the approved ones."""
    sids: dict[str, dict[str, str]] = {}
    for row in found:
        if row.sid is not None:
            sids.setdefault(row.event, {})[row.language] = row.sid
    lines = ["templates:"]
    for template in EVENTS.values():
        event = template.event.value
        ref = shop.templates.get(event)
        name = ref.name if ref is not None and ref.name else template_name(shop, template)
        theirs = sids.get(event)
        if not theirs:
            lines.append(f"  {event}: {name}")
            continue
        pairs = ", ".join(f"{lang}: {sid}" for lang, sid in theirs.items())
        lines.append(f"  {event}: {{whatsapp: {name}, twilio: {{{pairs}}}}}")
    return "\n".join(lines) + "\n"


async def lookup(settings: Settings, shop: Shop, session: aiohttp.ClientSession, *,
                 page_size: int = PAGE_SIZE) -> list[Found]:
    config = load(TwilioConfig, settings.env)
    if not config.account_sid or not config.auth_token:
        raise ContentLookupError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set")
    base = settings.env.get("TWILIO_CONTENT_BASE_URL") or CONTENT_BASE_URL
    return match(shop, await account_contents(session, base, config.account_sid,
                                              config.auth_token, page_size=page_size))


async def run_cli(settings: Settings, shop: Shop) -> list[Found]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        return await lookup(settings, shop, session)
