"""The benchmark's traffic: thousands of shoppers, each following a short shopping script in
their own language, on one of the three inbound channels, as raw signed HTTP requests.

Signing HMAC-SHA1 (Twilio) and HMAC-SHA256 (Cloud API) in wrk's Lua is impractical, so every
request is built, signed and serialised here once, before the run; wrk only cycles through
the bytes. Every request carries a unique message id (dedupe would otherwise short-circuit
the engine), so a run needs more requests than it can send: :func:`plan_size`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests import sim

CHANNELS = ("simulator", "twilio", "whatsapp")
SHOP_PHONE = "+919800000000"
PATHS = {"simulator": "/webhooks/simulator", "twilio": "/webhooks/twilio",
         "whatsapp": "/webhooks/whatsapp"}

# One script per language: greet, menu, a price question, two adds, the cart, checkout, an
# address. {a}/{b} are products in the shopper's language; scripts are deliberately varied.
SCRIPTS: dict[str, tuple[str, ...]] = {
    "en": ("hi", "menu", "how much is {a}", "2 {a}", "add 1 {b}", "show my cart",
           "checkout", "12 Park Street, Salt Lake"),
    "hi": ("नमस्ते", "मेनू दिखाओ", "{a} कितने का है", "२ {a}", "एक {b} भी", "मेरा कार्ट",
           "ऑर्डर करो", "12 पार्क स्ट्रीट, साल्ट लेक"),
    "bn": ("নমস্কার", "মেনু দেখাও", "{a} কত দাম", "২টা {a}", "একটা {b} দিন", "আমার কার্ট",
           "অর্ডার করুন", "১২ পার্ক স্ট্রিট, সল্ট লেক"),
    "ar": ("مرحبا", "القائمة", "كم سعر {a}", "أريد ٢ {a}", "و{b} واحد", "السلة",
           "اطلب الآن", "12 شارع بارك"),
    "hi-latn": ("namaste bhaiya", "menu dikhao", "{a} kitne ka hai", "do {a} chahiye",
                "ek {b} bhi dena", "mera cart dikhao", "order kar do",
                "12 Park Street, Salt Lake"),
}
# Products that exist in the demo shop, per language (a, b pairs rotate per shopper).
PRODUCTS: dict[str, tuple[str, ...]] = {
    "en": ("samosa", "lemon tea", "filter coffee", "egg roll", "rosogolla", "kachori",
           "chicken roll", "jalebi", "fish fry", "veg thali"),
    "hi": ("समोसा", "नींबू चाय", "कचौरी", "अंडा रोल", "रसगुल्ला", "जलेबी", "चिकन रोल",
           "पनीर रोल"),
    "bn": ("সিঙাড়া", "লেবু চা", "কচুরি", "ডিম রোল", "রসগোল্লা", "সন্দেশ", "মিষ্টি দই",
           "চিকেন রোল"),
    "ar": ("سمبوسة", "شاي بالليمون", "قهوة باردة", "لفافة بيض", "لفافة دجاج", "سمك مقلي"),
    "hi-latn": ("samosa", "nimbu chai", "kachori", "anda roll", "rasgulla", "jalebi",
                "chicken roll", "paneer roll"),
}
LANGUAGES = tuple(SCRIPTS)


@dataclass(frozen=True, slots=True)
class Secrets:
    """What the server under test is configured with (its environment, see :meth:`env`)."""

    public_url: str
    simulator_token: str = "bench-simulator-token"
    twilio_auth_token: str = "bench-twilio-token"
    twilio_account_sid: str = "AC" + "b" * 32
    whatsapp_app_secret: str = "bench-meta-app-secret"
    whatsapp_verify_token: str = "bench-verify-token"
    whatsapp_access_token: str = "bench-access-token"

    def env(self) -> dict[str, str]:
        return {
            "HAAT_PUBLIC_URL": self.public_url,
            "HAAT_SIMULATOR_TOKEN": self.simulator_token,
            "TWILIO_AUTH_TOKEN": self.twilio_auth_token,
            "TWILIO_ACCOUNT_SID": self.twilio_account_sid,
            "WHATSAPP_APP_SECRET": self.whatsapp_app_secret,
            "WHATSAPP_VERIFY_TOKEN": self.whatsapp_verify_token,
            "WHATSAPP_ACCESS_TOKEN": self.whatsapp_access_token,
            # the demo shop pays through the sandbox; the "live" channels are local fakes
            "HAAT_ALLOW_SANDBOX_WITH_LIVE_CHANNEL": "1",
        }


@dataclass(frozen=True, slots=True)
class BenchRequest:
    """One inbound webhook POST, ready to send."""

    channel: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def raw(self, host: str) -> bytes:
        """The exact HTTP/1.1 bytes (keep-alive), as wrk will write them on the socket."""
        head = [f"POST {self.path} HTTP/1.1", f"Host: {host}",
                f"Content-Length: {len(self.body)}"]
        head += [f"{name}: {value}" for name, value in self.headers]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + self.body


@dataclass(frozen=True, slots=True)
class Shopper:
    phone: str  # digits with a leading +
    language: str
    channel: str
    a: str
    b: str


def shoppers(count: int, prefix: str = "7") -> list[Shopper]:
    """``count`` distinct shoppers, spread evenly over languages and channels."""
    out: list[Shopper] = []
    for i in range(count):
        language = LANGUAGES[i % len(LANGUAGES)]
        channel = CHANNELS[(i // len(LANGUAGES)) % len(CHANNELS)]
        names = PRODUCTS[language]
        a = names[(i // 15) % len(names)]
        b = names[(i // 15 + 3) % len(names)]
        out.append(Shopper(f"+91{prefix}{i:09d}", language, channel, a, b))
    return out


def message_texts(shopper: Shopper) -> tuple[str, ...]:
    return tuple(step.format(a=shopper.a, b=shopper.b) for step in SCRIPTS[shopper.language])


def build_request(secrets: Secrets, shopper: Shopper, text: str, message_id: str,
                  ) -> BenchRequest:
    """A signed (or bearer-authorised) request carrying ``text`` from ``shopper``."""
    digits = shopper.phone.removeprefix("+")
    if shopper.channel == "simulator":
        body = json.dumps({"from": shopper.phone, "text": text, "id": message_id,
                           "to": SHOP_PHONE}, ensure_ascii=False).encode()
        headers: dict[str, str] = {"Content-Type": "application/json",
                                   "Authorization": f"Bearer {secrets.simulator_token}"}
    elif shopper.channel == "twilio":
        path = PATHS["twilio"]
        form = sim.twilio_text(text, from_=digits, to=SHOP_PHONE, sid=message_id)
        form["AccountSid"] = secrets.twilio_account_sid
        body, headers = sim.signed_twilio_request(secrets.public_url.rstrip("/") + path,
                                                  secrets.twilio_auth_token, form)
    elif shopper.channel == "whatsapp":
        envelope = sim.cloud_text(text, from_=digits, message_id=message_id,
                                  business=SHOP_PHONE)
        body, headers = sim.signed_cloud_request(secrets.whatsapp_app_secret, envelope)
    else:
        raise ValueError(f"unknown channel {shopper.channel!r}")
    return BenchRequest(shopper.channel, PATHS[shopper.channel], tuple(headers.items()), body)


def generate(secrets: Secrets, total: int, *, n_shoppers: int = 5000, run_id: str = "r",
             prefix: str = "7") -> Iterator[BenchRequest]:
    """``total`` requests: every shopper takes step 1, then every shopper step 2, and so on
    (scripts restart when done), so one shopper's messages are thousands of requests apart
    and arrive in order, as real conversations would."""
    people = shoppers(n_shoppers, prefix)
    texts = [message_texts(p) for p in people]
    steps = len(next(iter(SCRIPTS.values())))
    count = 0
    for rnd in itertools.count():
        for step in range(steps):
            for i, person in enumerate(people):
                if count >= total:
                    return
                message_id = f"{run_id}{prefix}.{rnd}.{step}.{i}"
                if person.channel == "whatsapp":
                    message_id = "wamid.BENCH" + message_id
                elif person.channel == "twilio":
                    message_id = "SMbench" + message_id
                yield build_request(secrets, person, texts[i][step], message_id)
                count += 1


def plan_size(duration_s: float, ceiling_per_s: int = 4500, margin: int = 2000) -> int:
    """How many unique requests a run of ``duration_s`` needs (more than it can send)."""
    return int(duration_s * ceiling_per_s) + margin


def write_wrk_files(requests: Sequence[BenchRequest] | Iterator[BenchRequest], stem: Path,
                    threads: int, host: str) -> tuple[list[Path], int]:
    """Deal requests round-robin into one file per wrk thread: ``LEN\\n<raw bytes>`` records.

    Round-robin keeps the global order (a shopper's step 1 before step 2) across threads.
    """
    paths = [stem.with_name(f"{stem.name}.{t}") for t in range(threads)]
    files = [p.open("wb") for p in paths]
    count = 0
    try:
        for count, request in enumerate(requests, 1):
            raw = request.raw(host)
            out = files[(count - 1) % threads]
            out.write(b"%d\n" % len(raw))
            out.write(raw)
    finally:
        for f in files:
            f.close()
    return paths, count


def read_wrk_file(path: Path) -> list[bytes]:
    """The inverse of :func:`write_wrk_files` for one thread's file (the Python generator)."""
    data = path.read_bytes()
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        newline = data.index(b"\n", pos)
        length = int(data[pos:newline])
        start = newline + 1
        out.append(data[start:start + length])
        pos = start + length
    return out
