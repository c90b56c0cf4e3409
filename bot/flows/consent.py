"""STOP / START and the ask_at_checkout question: marketing consent in the chat. See consent.mmd.

The engine reads a whole-message keyword (bot/consent.py) before the intent engine and
routes it here as a ``consent:`` payload, first of all routes: an opt-out is honoured in
any state, also while a person has the chat (the confirmation is the bot's only words then).
"""

from __future__ import annotations

from bot import consent
from bot.consent import ConsentService, ConsentSource, ConsentStatus
from bot.filters import button
from bot.replies import shop_name
from bot.router import UNHANDLED, Blueprint, Turn
from bot.types import Button
from catalog.models import MarketingOptIn

router = Blueprint("consent")

STOP = consent.PAYLOAD_PREFIX + consent.ConsentCommand.STOP.value
START = consent.PAYLOAD_PREFIX + consent.ConsentCommand.START.value


def transition(status: ConsentStatus, payload: str) -> ConsentStatus:
    """The one state machine of consent (consent.mmd): STOP and No out, START and Yes in."""
    if payload in (STOP, consent.PAYLOAD_NO):
        return ConsentStatus.OPTED_OUT
    if payload in (START, consent.PAYLOAD_YES):
        return ConsentStatus.OPTED_IN
    return status


@router.on(button(consent.PAYLOAD_PREFIX))
async def change(turn: Turn) -> object:
    """Record the choice (the newest wins) and confirm it in the shopper's language."""
    payload = turn.payload or ""
    status = transition(ConsentStatus.UNKNOWN, payload)
    if status is ConsentStatus.UNKNOWN:
        return UNHANDLED  # not one of ours: the stale-button fallback answers
    key = turn.conversation.key
    tapped = payload in (consent.PAYLOAD_YES, consent.PAYLOAD_NO)
    consent.record(turn.writes, key.shop_id, key.channel, key.customer, status,
                   ConsentSource.CHECKOUT if tapped else ConsentSource.KEYWORD, turn.now_ms)
    name = shop_name(turn.shop, turn.language)
    if status is ConsentStatus.OPTED_OUT:
        turn.say("consent_declined" if tapped else "consent_stopped", shop=name)
    else:
        turn.say("consent_started", shop=name)
    return None


async def ask_after_order(turn: Turn, service: ConsentService) -> None:
    """After an order: opt in (implicit_on_order) or ask once (ask_at_checkout)."""
    shop = turn.shop
    key = turn.conversation.key
    if shop.marketing_opt_in is MarketingOptIn.IMPLICIT_ON_ORDER:
        consent.after_order(turn.writes, shop, key.channel, key.customer, turn.now_ms)
        return
    if shop.marketing_opt_in is not MarketingOptIn.ASK_AT_CHECKOUT:
        return
    current = await service.read(key.shop_id, key.channel, key.customer)
    if current.asked or current.status is not ConsentStatus.UNKNOWN:
        return
    consent.record_if_unsaid(turn.writes, key.shop_id, key.channel, key.customer,
                             ConsentStatus.UNKNOWN, ConsentSource.ASKED, turn.now_ms,
                             asked=True)
    turn.buttons(turn.t("consent_ask", shop=shop_name(shop, turn.language)),
                 [Button(consent.PAYLOAD_YES, turn.t("consent_yes")),
                  Button(consent.PAYLOAD_NO, turn.t("consent_no"))])
