"""What a merchant submits for approval: every event's template, in the shop's languages.

``haat templates export`` writes these (webhooks/cli.py); pure, no I/O here.

- Cloud API: the bodies of ``POST /{whatsapp-business-account-id}/message_templates``, one
  per template and language, with ``parameter_format: named`` and an example per variable
  (``body_text_named_params``), as Meta's template docs give them.
- Twilio: the bodies of ``POST https://content.twilio.com/v1/Content`` (``twilio/text``,
  the same named variables, each with its sample: Twilio takes alphanumeric keys of up to
  16 characters) and of the WhatsApp approval request
  ``POST /v1/Content/{sid}/ApprovalRequests/whatsapp`` that follows.
"""

from __future__ import annotations

from typing import Any

from catalog.message_templates import (
    EVENTS,
    EventTemplate,
    TemplateEvent,
    languages_for,
    meta_language,
    placeholders,
)
from catalog.models import Shop


def template_name(shop: Shop, template: EventTemplate) -> str:
    """The name the shop maps the event to, else haat's default (``haat_order_paid``)."""
    ref = shop.templates.get(template.event.value)
    return ref.name if ref is not None and ref.name else template.default_name


def _examples(shop: Shop, template: EventTemplate, language: str) -> dict[str, str]:
    values = dict(template.variables)
    if "shop" in values:
        values["shop"] = shop.name.get(language, shop.default_language)
    return values


def meta_templates(shop: Shop) -> list[dict[str, Any]]:
    """Graph API ``message_templates`` bodies, one per event and language."""
    out: list[dict[str, Any]] = []
    for template in EVENTS.values():
        for language in languages_for(template, shop.languages):
            examples = _examples(shop, template, language)
            body = template.body(language)
            out.append({
                "name": template_name(shop, template),
                "language": meta_language(language),
                "category": template.category.value.upper(),
                "parameter_format": "named",
                "components": [{
                    "type": "body", "text": body,
                    "example": {"body_text_named_params": [
                        {"param_name": name, "example": examples[name]}
                        for name in placeholders(body)]},
                }],
            })
    return out


def twilio_contents(shop: Shop) -> list[dict[str, Any]]:
    """Twilio Content API definitions and their WhatsApp approval requests."""
    out: list[dict[str, Any]] = []
    for template in EVENTS.values():
        for language in languages_for(template, shop.languages):
            examples = _examples(shop, template, language)
            body = template.body(language)
            name = f"{template_name(shop, template)}_{language}"
            out.append({
                "event": template.event.value,
                "language": language,
                "content": {
                    "friendly_name": name,
                    "language": meta_language(language),  # Twilio takes the same codes
                    "variables": {n: examples[n] for n in template.variable_names},
                    "types": {"twilio/text": {"body": body}},
                },
                "whatsapp_approval": {"name": name,
                                      "category": template.category.value.upper()},
            })
    return out


def missing_templates(shop: Shop, *, content_sids: bool) -> list[str]:
    """Events the shop maps no template to (``content_sids``: on Twilio, per language)."""
    missing: list[str] = []
    for event in TemplateEvent:
        ref = shop.templates.get(event.value)
        template = EVENTS[event]
        if ref is None:
            missing.append(event.value)
        elif content_sids:
            lacking = [lang for lang in languages_for(template, shop.languages)
                       if ref.content_sid(lang) is None]
            if lacking:
                missing.append(f"{event.value} ({', '.join(lacking)})")
        elif ref.name is None:
            missing.append(event.value)
    return missing


def shop_yaml_snippet(shop: Shop) -> str:
    """The ``templates:`` block that maps every event to the names exported."""
    lines = ["templates:"]
    for template in EVENTS.values():
        comment = "  # marketing" if template.category.value == "marketing" else ""
        lines.append(f"  {template.event.value}: {template_name(shop, template)}{comment}")
    return "\n".join(lines) + "\n"


__all__ = ["meta_templates", "missing_templates", "shop_yaml_snippet", "template_name",
           "twilio_contents"]
