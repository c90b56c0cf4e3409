"""The WhatsApp message templates haat sends outside the 24-hour window: one per event.

Pure data and rules, no I/O: what each proactive event says (per language), its named
variables with an example each, its category (utility or marketing: it sets the price and
whether the shopper must have opted in), and how a variable's value is made acceptable.

The rules, from the platforms' documentation (docs/CHANNELS.md cites them):

- Meta (Cloud API): a text parameter may not hold a newline, a tab or more than 4
  consecutive spaces (error 132018); a body is at most 1,024 characters; the parameter
  names of a ``parameter_format: named`` template are lower-case letters, digits and ``_``;
  a body may not start or end with a variable, nor have two variables side by side.
- Twilio Content API: variable keys without spaces, at most 16 characters; values up to
  1,600 characters, fewer than 250 recommended; the template body has no ``\\n``.
- Language codes are those of Meta's supported-languages list (``en``, ``hi``, ``bn``,
  ``ar``), which Twilio's Content API takes as well.

Merchant-facing alerts are English only, as every merchant text is (bot/flows/merchant.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class TemplateEvent(StrEnum):
    """A proactive message haat may have to send outside the customer-service window."""

    ORDER_PLACED = "order_placed"
    ORDER_PAID = "order_paid"
    ORDER_SHIPPED = "order_shipped"
    ORDER_DELIVERED = "order_delivered"
    REFUND = "refund"
    PAYMENT_REMINDER = "payment_reminder"
    CART_REMINDER = "cart_reminder"
    MERCHANT_ALERT = "merchant_alert"
    HANDOFF_ALERT = "handoff_alert"


class TemplateCategory(StrEnum):
    """Meta's template categories that haat uses (authentication is not one of them)."""

    UTILITY = "utility"  # about a transaction the shopper started: no marketing opt-in
    MARKETING = "marketing"  # anything else: only to shoppers who opted in


class Audience(StrEnum):
    SHOPPER = "shopper"
    OWNER = "owner"


# Meta's language codes (templates/supported-languages) for haat's languages; Twilio's
# Content API takes the same WhatsApp codes
META_LANGUAGES: Final = MappingProxyType({"en": "en", "hi": "hi", "bn": "bn", "ar": "ar"})

BODY_LIMIT: Final = 1024  # Meta: a template body, variables filled in
VARIABLE_LIMIT: Final = 250  # Twilio's recommended ceiling; far inside Meta's body limit
TWILIO_KEY_LIMIT: Final = 16
_VARIABLE_RE: Final = re.compile(r"\{\{([a-z][a-z0-9_]*)\}\}")
NAME_RE: Final = re.compile(r"^[a-z0-9_]{1,512}$")  # Meta's template names
CONTENT_SID_RE: Final = re.compile(r"^HX[0-9a-fA-F]{32}$")  # a Twilio Content SID


@dataclass(frozen=True, slots=True)
class EventTemplate:
    """One event's template: its default name, category, variables and body texts."""

    event: TemplateEvent
    category: TemplateCategory
    audience: Audience
    variables: tuple[tuple[str, str], ...]  # (name, example value), in body order
    bodies: Mapping[str, str]  # language → body with {{name}} placeholders

    @property
    def default_name(self) -> str:
        """The name ``haat templates export`` submits it under."""
        return f"haat_{self.event.value}"

    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.variables)

    def body(self, language: str) -> str:
        return self.bodies.get(language) or self.bodies["en"]


def _t(event: TemplateEvent, category: TemplateCategory, audience: Audience,
       variables: tuple[tuple[str, str], ...], **bodies: str) -> EventTemplate:
    return EventTemplate(event, category, audience, variables, MappingProxyType(bodies))


_E, _C, _A = TemplateEvent, TemplateCategory, Audience
_SHOP = ("shop", "Mitra Tea House")
_ORDER = ("order", "ORD-1042")

EVENTS: Final[Mapping[TemplateEvent, EventTemplate]] = MappingProxyType({t.event: t for t in (
    _t(_E.ORDER_PLACED, _C.UTILITY, _A.SHOPPER, (_ORDER, _SHOP, ("total", "₹240.00")),
       en="Thank you for your order {{order}} at {{shop}}. The total is {{total}}, and we "
          "will confirm as soon as the payment arrives.",
       hi="धन्यवाद! {{shop}} पर आपका ऑर्डर {{order}} मिल गया। कुल राशि {{total}} है, भुगतान "
          "मिलते ही हम पुष्टि करेंगे।",
       bn="ধন্যবাদ! {{shop}}-এ আপনার অর্ডার {{order}} পেয়েছি। মোট {{total}}, টাকা পেলেই "
          "আমরা জানাব।",
       ar="شكراً لطلبك {{order}} من {{shop}}. المجموع {{total}}، وسنؤكد فور وصول الدفع."),
    _t(_E.ORDER_PAID, _C.UTILITY, _A.SHOPPER, (("amount", "₹240.00"), _ORDER, _SHOP),
       en="We received your payment of {{amount}} for order {{order}} at {{shop}}. "
          "Thank you, we are preparing it now.",
       hi="ऑर्डर {{order}} के लिए आपका {{amount}} का भुगतान {{shop}} को मिल गया। धन्यवाद, "
          "हम इसे तैयार कर रहे हैं।",
       bn="ধন্যবাদ! {{shop}} আপনার অর্ডার {{order}}-এর জন্য {{amount}} পেয়েছে। আমরা "
          "তৈরি করছি।",
       ar="استلمنا دفعتك البالغة {{amount}} للطلب {{order}} من {{shop}}. شكراً، نحن نجهزه الآن."),
    _t(_E.ORDER_SHIPPED, _C.UTILITY, _A.SHOPPER, (_ORDER, _SHOP),
       en="Your order {{order}} from {{shop}} is on its way. Reply here if you have any "
          "question.",
       hi="खुशखबरी! {{shop}} से आपका ऑर्डर {{order}} रास्ते में है। कोई सवाल हो तो यहीं "
          "जवाब दें।",
       bn="সুখবর! {{shop}} থেকে আপনার অর্ডার {{order}} রওনা হয়েছে। কোনো প্রশ্ন থাকলে "
          "এখানে লিখুন।",
       ar="طلبك {{order}} من {{shop}} في الطريق إليك. إن كان لديك سؤال فاكتب هنا."),
    _t(_E.ORDER_DELIVERED, _C.UTILITY, _A.SHOPPER, (_ORDER, _SHOP),
       en="Your order {{order}} from {{shop}} was delivered. Thank you for shopping with us.",
       hi="नमस्ते! {{shop}} से आपका ऑर्डर {{order}} पहुँचा दिया गया। खरीदारी के लिए धन्यवाद।",
       bn="নমস্কার! {{shop}} থেকে আপনার অর্ডার {{order}} পৌঁছে গেছে। কেনাকাটার জন্য ধন্যবাদ।",
       ar="تم توصيل طلبك {{order}} من {{shop}}. شكراً لتسوقك معنا."),
    _t(_E.REFUND, _C.UTILITY, _A.SHOPPER, (("amount", "₹240.00"), _ORDER, _SHOP),
       en="A refund of {{amount}} for your order {{order}} at {{shop}} is on its way to "
          "you. Banks usually take a few working days.",
       hi="नमस्ते! {{shop}} पर आपके ऑर्डर {{order}} का {{amount}} रिफ़ंड भेजा जा रहा है। बैंक में "
          "आमतौर पर कुछ कार्यदिवस लगते हैं।",
       bn="নমস্কার! {{shop}}-এ আপনার অর্ডার {{order}}-এর {{amount}} ফেরত পাঠানো হচ্ছে। ব্যাংকে "
          "সাধারণত কয়েক কার্যদিবস লাগে।",
       ar="استرداد {{amount}} لطلبك {{order}} من {{shop}} في طريقه إليك. تستغرق البنوك "
          "عادةً بضعة أيام عمل."),
    _t(_E.PAYMENT_REMINDER, _C.UTILITY, _A.SHOPPER,
       (_ORDER, _SHOP, ("minutes", "10"), ("link", "https://pay.example.com/p/abc")),
       en="Your order {{order}} at {{shop}} is waiting for payment. The link expires in "
          "{{minutes}} minutes: {{link}} Thank you.",
       hi="याद दिलाना: {{shop}} पर आपका ऑर्डर {{order}} भुगतान की प्रतीक्षा में है। "
          "लिंक {{minutes}} मिनट में समाप्त होगा: {{link}} धन्यवाद।",
       bn="মনে করিয়ে দিচ্ছি: {{shop}}-এ আপনার অর্ডার {{order}} পেমেন্টের অপেক্ষায়। "
          "লিঙ্কটি {{minutes}} মিনিটে শেষ হবে: {{link}} ধন্যবাদ।",
       ar="طلبك {{order}} من {{shop}} بانتظار الدفع. ينتهي الرابط خلال {{minutes}} دقيقة: "
          "{{link}} شكراً."),
    _t(_E.CART_REMINDER, _C.MARKETING, _A.SHOPPER,
       (_SHOP, ("items", "2 × Masala Chai, 1 × Samosa")),
       en="Hello from {{shop}}! You left {{items}} in your cart. Reply to finish your order.",
       hi="नमस्ते, यह {{shop}} है! आपकी कार्ट में {{items}} रखा है। ऑर्डर पूरा करने के लिए "
          "जवाब दें।",
       bn="নমস্কার, এটি {{shop}}! আপনার কার্টে {{items}} রয়ে গেছে। অর্ডার শেষ করতে উত্তর দিন।",
       ar="مرحباً من {{shop}}! تركت {{items}} في سلتك. رد علينا لإكمال طلبك."),
    _t(_E.MERCHANT_ALERT, _C.UTILITY, _A.OWNER,
       (_SHOP, ("alert", "ORD-1042 paid: ₹240.00 · 2 × Masala Chai · Reply ship ORD-1042")),
       en="Alert for {{shop}}: {{alert}}. Reply to this message to see the details."),
    _t(_E.HANDOFF_ALERT, _C.UTILITY, _A.OWNER,
       (("customer", "+919830000000"), _SHOP, ("message", "Can I change my address?")),
       en="The customer {{customer}} of {{shop}} asked for a person. Their last message: "
          "{{message}}. Reply to this message to answer them."),
)})


def clean_variable(value: str, limit: int = VARIABLE_LIMIT) -> str:
    """A value both platforms take: one line (newlines and tabs become " · " and " "),
    no run of more than one space, never empty, at most ``limit`` characters."""
    lines = [" ".join(line.replace("\t", " ").split()) for line in value.splitlines()]
    text = " · ".join(line for line in lines if line)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or "-"


def variable_problem(value: str) -> str | None:
    """Why Meta would refuse ``value`` as a text parameter (error 132018), or None."""
    if "\n" in value or "\r" in value or "\t" in value:
        return "a parameter may not contain a newline or a tab"
    if "     " in value:
        return "a parameter may not contain more than 4 consecutive spaces"
    if not value.strip():
        return "a parameter may not be empty"
    return None


def placeholders(body: str) -> tuple[str, ...]:
    """The ``{{name}}`` variables of a body, in order."""
    return tuple(_VARIABLE_RE.findall(body))


def fill(body: str, values: Mapping[str, str]) -> str:
    """The body as the shopper reads it (the simulator and channels without templates)."""
    return _VARIABLE_RE.sub(lambda m: values.get(m.group(1), m.group(0)), body)


def meta_language(language: str) -> str:
    return META_LANGUAGES.get(language, "en")


def languages_for(template: EventTemplate, shop_languages: tuple[str, ...]) -> tuple[str, ...]:
    """The languages to submit: the shop's, where the event has a text in them (owner
    alerts: English)."""
    found = tuple(lang for lang in shop_languages if lang in template.bodies)
    return found or ("en",)


__all__ = [
    "BODY_LIMIT", "CONTENT_SID_RE", "EVENTS", "META_LANGUAGES", "NAME_RE",
    "Audience", "EventTemplate", "TemplateCategory", "TemplateEvent", "clean_variable",
    "fill", "languages_for", "meta_language", "placeholders",
    "variable_problem",
]
