"""Template messages: an event's approved template, filled with its variables, as a Reply.

Every proactive message (a receipt, a shipping note, a reminder, an owner alert) names its
event (catalog/message_templates.py) and the values of that event's variables. Inside the
customer-service window it goes out as free-form text carrying its template as a fallback
(``extra["fallback"]``), so a send the channel refuses for the window (Cloud API 131047,
Twilio 63016) is sent again as the template by the outbox; outside the window the template
goes out at once. Without a template outside the window there is nothing WhatsApp would
deliver: an owner's alert is *held* for the next digest, a shopper's message is recorded as
*undeliverable* (both visible in ``GET /api/outbox``).

:func:`template_reply` is also the one way to send any approved template by name (the
broadcasts use it for the merchant's marketing templates).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace

from bot.outgoing import OutboundStatus, OutboxItem
from bot.state import Conversation
from bot.types import Reply
from catalog.message_templates import (
    EVENTS,
    Audience,
    TemplateCategory,
    TemplateEvent,
    clean_variable,
    fill,
    meta_language,
)
from catalog.models import Shop, TemplateRef

NO_TEMPLATE = "outside the 24-hour window and no approved template for it in shop.yaml"
OWNER_EVENTS = frozenset({TemplateEvent.MERCHANT_ALERT.value, TemplateEvent.HANDOFF_ALERT.value})


def template_reply(ref: TemplateRef, language: str, variables: Sequence[tuple[str, str]], *,
                   event: str, category: TemplateCategory = TemplateCategory.MARKETING,
                   text: str = "") -> Reply | None:
    """An approved template (``ref``: its Cloud API name and/or Twilio Content SIDs) with
    its variables in body order, each value cleaned by the platforms' rules. ``text`` is
    what channels without templates show. None when ``ref`` names nothing for this
    language."""
    sid = ref.content_sid(language)
    if ref.name is None and sid is None:
        return None
    names = [name for name, _ in variables]
    values = tuple(clean_variable(str(value)) for _, value in variables)
    extra: dict[str, object] = {"event": event, "language": meta_language(language),
                                "param_names": names, "category": category.value}
    if sid is not None:
        extra["content_sid"] = sid
    return Reply(type="template", text=text, template=ref.name, params=values, extra=extra)


def event_template(shop: Shop, event: TemplateEvent | str, language: str,
                   variables: Mapping[str, str]) -> Reply | None:
    """The shop's approved template for ``event`` (an event, or a merchant's own
    ``templates`` key), or None when shop.yaml maps none."""
    key = str(event)
    ref = shop.templates.get(key)
    if ref is None:
        return None
    spec = EVENTS.get(TemplateEvent(key)) if key in EVENTS else None
    if spec is None:  # the merchant's own template: variables as given
        return template_reply(ref, language, list(variables.items()), event=key)
    lang = language if language in spec.bodies else "en"
    pairs = [(name, variables.get(name, "")) for name in spec.variable_names]
    reply = template_reply(ref, lang, pairs, event=key, category=spec.category)
    if reply is None:
        return None
    body = fill(spec.body(lang), dict(zip(spec.variable_names, reply.params, strict=True)))
    return replace(reply, text=body)


def template_item(shop: Shop, key: TemplateEvent | str, language: str,
                  variables: Mapping[str, str], *, channel: str, customer: str,
                  business: str) -> OutboxItem | None:
    """An outbox row that sends the shop's approved template ``key`` (an event, or the
    merchant's own ``templates`` key: a broadcast's marketing template) as it is, whatever
    the window; None when shop.yaml maps no template to ``key`` for this language. Write
    it with ``outbox_statement`` in the transaction that decides it, then ``submit`` it."""
    reply = event_template(shop, key, language, variables)
    if reply is None:
        return None
    return OutboxItem(uuid.uuid4().hex, shop.id, channel, customer, business, reply)


def with_fallback(reply: Reply, template: Reply | None) -> Reply:
    """``reply`` carrying ``template`` to be sent instead if the window turns out closed."""
    if template is None:
        return reply
    return replace(reply, extra={**reply.extra, "fallback": template.to_json()})


def fallback_of(reply: Reply) -> Reply | None:
    data = reply.extra.get("fallback")
    return Reply.from_json(data) if isinstance(data, dict) else None


def is_owner_alert(reply: Reply) -> bool:
    """An alert to the shop's owner: undeliverable ones are held for the next digest."""
    fallback = fallback_of(reply)
    return (reply.extra.get("event") in OWNER_EVENTS
            or (fallback is not None and fallback.extra.get("event") in OWNER_EVENTS))


def plan(shop: Shop, conversation: Conversation | None, body: str | Reply, now_ms: int,
         event: TemplateEvent | None, variables: Mapping[str, str], *, language: str,
         windowed: bool) -> tuple[Reply, OutboundStatus, str | None]:
    """How one proactive message goes out: ``(reply, status of its outbox row, error)``.

    On a channel with a customer-service window (``windowed``: it declares
    ``ChannelCapability.SERVICE_WINDOW``, as WhatsApp's 24 hours) the free-form ``body``
    goes inside the window (with its template as the fallback), the template outside it;
    with no template the row is held (owner alerts) or undeliverable. Elsewhere: free-form.
    """
    reply = body if isinstance(body, Reply) else Reply(type="text", text=body)
    if not windowed:
        return reply, OutboundStatus.PENDING, None
    if event is not None:  # what it is, for the outbox's plan should it be refused
        reply = replace(reply, extra={**reply.extra, "event": event.value})
    template = event_template(shop, event, language, variables) if event else None
    if conversation is not None and conversation.in_window(now_ms):
        return with_fallback(reply, template), OutboundStatus.PENDING, None
    if template is not None:
        return template, OutboundStatus.PENDING, None
    spec = EVENTS.get(event) if event else None
    if spec is not None and spec.audience is Audience.OWNER:
        return reply, OutboundStatus.HELD, NO_TEMPLATE
    return reply, OutboundStatus.UNDELIVERABLE, NO_TEMPLATE


def proactive_item(shop: Shop, conversation: Conversation | None, body: str | Reply,
                   now_ms: int, event: TemplateEvent | None, variables: Mapping[str, str], *,
                   channel: str, customer: str, business: str, language: str,
                   windowed: bool) -> OutboxItem:
    """The outbox row of one proactive message (see :func:`plan`)."""
    reply, status, error = plan(shop, conversation, body, now_ms, event, variables,
                                language=language, windowed=windowed)
    return OutboxItem(uuid.uuid4().hex, shop.id, channel, customer, business, reply,
                      status=status, error=error)


__all__ = ["NO_TEMPLATE", "event_template", "fallback_of", "is_owner_alert", "plan",
           "proactive_item", "template_item", "template_reply", "with_fallback"]
