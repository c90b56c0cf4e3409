"""NPCI ``upi://pay`` intent links: build, parse, validate (docs/DESIGN.md §5.1).

Why hand-rolled: ``urlencode`` writes ``+`` for spaces (some UPI apps show it literally) and
``parse_qsl`` turns ``+`` into a space (breaking base64 ``sign=`` values). Values are
percent-encoded with ``quote(v, safe="@.-_~")`` and decoded with plain ``unquote``; the link keeps
its parameters as an ordered tuple so unknown keys survive a round trip, and a PSP-signed link is
re-emitted byte for byte (a merchant cannot re-sign it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from catalog.money import Money, MoneyError

_SAFE = "@.-_~"
_VPA_RE = re.compile(r"^[A-Za-z0-9.\-_]{2,256}@[A-Za-z]{2,64}$")
_TR_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,35}$")
_MCC_RE = re.compile(r"^\d{4}$")
_TWO_DIGITS = re.compile(r"^\d{2}$")
_AMOUNT_RE = re.compile(r"^\d+(\.\d{1,2})?$")
_MAX_VPA = 255
_MAX_TN = 50
# The order build() writes parameters in; reproduces the reference vector TV-UPI-1.
_BUILD_ORDER = ("pa", "pn", "am", "cu", "tn", "tr", "mc", "tid", "mam", "url", "mode", "purpose")
_KNOWN = frozenset((*_BUILD_ORDER, "orgid", "sign"))
_WHATSAPP_KEYS = ("pa", "pn", "mc", "purpose", "tr")


class UpiError(ValueError):
    """A link that cannot be built or read."""


def is_valid_vpa(vpa: str) -> bool:
    """Syntactic pre-check of a UPI ID (``handle@psp``); the PSP still has the last word."""
    text = vpa.strip()
    return len(text) <= _MAX_VPA and _VPA_RE.fullmatch(text) is not None


def is_valid_reference(tr: str) -> bool:
    """A ``tr`` that is also a valid WhatsApp ``reference_id`` and Razorpay ``reference_id``."""
    return _TR_RE.fullmatch(tr) is not None


def encode_value(value: str) -> str:
    """Percent-encode one value: ``%20`` for spaces, ``%2B`` for ``+``, UTF-8 for the rest."""
    return quote(value, safe=_SAFE)


def format_amount(amount: Money) -> str:
    """``am=`` text: INR only, positive, exactly two decimals from integer paise."""
    if amount.currency != "INR":
        raise UpiError(f"UPI links carry INR only, not {amount.currency}")
    if amount.minor <= 0:
        raise UpiError("a UPI amount must be positive")
    return amount.to_decimal_string(2)


@dataclass(frozen=True, slots=True)
class UpiLink:
    """One ``upi://<action>?…`` link as an ordered list of decoded parameters.

    ``raw`` holds the original text of a parsed link so a PSP-signed link is re-emitted
    untouched; it is ignored in comparisons.
    """

    params: tuple[tuple[str, str], ...]
    action: str = "pay"
    raw: str | None = field(default=None, compare=False, repr=False)

    # building ---------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        *,
        pa: str,
        pn: str,
        amount: Money | None = None,
        tr: str | None = None,
        tn: str | None = None,
        mc: str | None = None,
        tid: str | None = None,
        min_amount: Money | None = None,
        url: str | None = None,
        mode: str | None = None,
        purpose: str | None = None,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> UpiLink:
        """A validated link; ``amount`` None makes a static link (payer types the amount)."""
        if not is_valid_vpa(pa):
            raise UpiError(f"not a UPI ID: {pa!r}")
        if not pn.strip():
            raise UpiError("the payee name (pn) is required")
        values: dict[str, str | None] = {
            "pa": pa.strip(),
            "pn": pn.strip(),
            "am": format_amount(amount) if amount is not None else None,
            "cu": "INR",
            "tn": tn.strip()[:_MAX_TN] if tn and tn.strip() else None,
            "tr": tr,
            "mc": mc,
            "tid": tid,
            "mam": format_amount(min_amount) if min_amount is not None else None,
            "url": url,
            "mode": mode,
            "purpose": purpose,
        }
        if tr is not None and not is_valid_reference(tr):
            raise UpiError("tr must be 1-35 characters of A-Z a-z 0-9 _ . -")
        if mc is not None and not _MCC_RE.fullmatch(mc):
            raise UpiError("mc must be a 4-digit merchant category code")
        if tid is not None and not tid.strip():
            raise UpiError("tid must not be empty")
        if url is not None and not url.startswith(("http://", "https://")):
            raise UpiError("url must start with http:// or https://")
        for key in ("mode", "purpose"):
            code = values[key]
            if code is not None and not _TWO_DIGITS.fullmatch(code):
                raise UpiError(f"{key} must be a 2-digit code")
        if amount is not None and min_amount is not None and min_amount.minor > amount.minor:
            raise UpiError("mam must not exceed am")
        for key, _ in extra:
            if key in _KNOWN or not key:
                raise UpiError(f"extra key {key!r} clashes with a spec parameter")
        ordered = tuple((k, v) for k in _BUILD_ORDER if (v := values[k]) is not None)
        return cls(params=ordered + tuple(extra))

    # reading ----------------------------------------------------------------------------
    @classmethod
    def parse(cls, uri: str) -> UpiLink:
        """Read any real-world link leniently: unknown keys kept in order, raw spaces and a
        stray ``&`` inside a value accepted, ``+`` kept as ``+``."""
        text = uri.strip()
        scheme, sep, rest = text.partition("://")
        if not sep or scheme.lower() != "upi":
            raise UpiError("not a upi:// link")
        action, _, query = rest.partition("?")
        action = action.rstrip("/").lower()
        if not action:
            raise UpiError("a upi:// link needs an action such as pay")
        pairs: list[tuple[str, str]] = []
        for segment in query.split("&"):
            if not segment:
                continue
            key, eq, value = segment.partition("=")
            if not eq:
                # "pn=A&B%20Traders": an unencoded & inside the previous value.
                if not pairs:
                    raise UpiError(f"parameter without a value: {segment!r}")
                last_key, last_raw = pairs[-1]
                pairs[-1] = (last_key, f"{last_raw}&{segment}")
                continue
            pairs.append((key, value))
        try:
            decoded = tuple((unquote(k, errors="strict"), unquote(v, errors="strict"))
                            for k, v in pairs)
        except UnicodeDecodeError as exc:
            raise UpiError("a percent-escape is not valid UTF-8") from exc
        return cls(params=decoded, action=action, raw=text)

    def get(self, key: str) -> str | None:
        """First value of ``key`` (keys are case-sensitive in the spec)."""
        for k, v in self.params:
            if k == key:
                return v
        return None

    @property
    def pa(self) -> str | None:
        return self.get("pa")

    @property
    def pn(self) -> str | None:
        return self.get("pn")

    @property
    def am(self) -> str | None:
        return self.get("am")

    @property
    def cu(self) -> str | None:
        return self.get("cu")

    @property
    def tr(self) -> str | None:
        return self.get("tr")

    @property
    def tn(self) -> str | None:
        return self.get("tn")

    @property
    def mc(self) -> str | None:
        return self.get("mc")

    @property
    def tid(self) -> str | None:
        return self.get("tid")

    @property
    def url(self) -> str | None:
        return self.get("url")

    @property
    def mode(self) -> str | None:
        return self.get("mode")

    @property
    def purpose(self) -> str | None:
        return self.get("purpose")

    @property
    def sign(self) -> str | None:
        return self.get("sign")

    @property
    def mam(self) -> str | None:
        """Minimum amount; ``mam=null`` and ``mam=`` mean none (spec)."""
        value = self.get("mam")
        return None if value in (None, "", "null") else value

    @property
    def is_signed(self) -> bool:
        return self.get("sign") is not None

    @property
    def extra(self) -> tuple[tuple[str, str], ...]:
        """Parameters outside the linking spec (``ver``, ``paytmqr``, GST keys…), in order."""
        return tuple((k, v) for k, v in self.params if k not in _KNOWN)

    @property
    def amount(self) -> Money | None:
        """``am`` as exact INR, or None when absent; a malformed amount raises UpiError."""
        value = self.am
        if value is None or value == "":
            return None
        if not _AMOUNT_RE.fullmatch(value):
            raise UpiError(f"am={value!r} is not a decimal amount")
        try:
            return Money.parse(value, "INR")
        except MoneyError as exc:  # pragma: no cover - the regex guards this
            raise UpiError(str(exc)) from exc

    # writing ----------------------------------------------------------------------------
    def to_uri(self) -> str:
        """The link text. A parsed signed link comes back exactly as it was read."""
        if self.raw is not None and self.is_signed:
            if UpiLink.parse(self.raw).params != self.params:
                raise UpiError("a PSP-signed link cannot be modified")
            return self.raw
        query = "&".join(f"{encode_value(k)}={encode_value(v)}" for k, v in self.params)
        return f"upi://{self.action}?{query}"

    def __str__(self) -> str:
        return self.to_uri()

    def for_whatsapp_order_details(self) -> UpiLink:
        """Only ``pa, pn, mc, purpose, tr``: all WhatsApp's ``upi_intent_link`` accepts."""
        if self.is_signed:
            raise UpiError("a PSP-signed link must be sent whole, not trimmed")
        kept = tuple((k, v) for k, v in self.params if k in _WHATSAPP_KEYS)
        return UpiLink(params=kept, action=self.action)


def build_upi_link(
    *, vpa: str, payee_name: str, amount: Money, reference: str,
    note: str | None = None, mcc: str | None = None,
) -> str:
    """The usual dynamic merchant link (one per payment attempt) as text."""
    return UpiLink.build(pa=vpa, pn=payee_name, amount=amount, tr=reference, tn=note,
                         mc=mcc).to_uri()
