"""Signature vectors from the fixtures verify; tampered or unconfigured ones fail closed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from multidict import MultiDict

from config.settings import Settings
from security.signatures import hmac_sha256_hex, verify_hex
from tests import sim
from webhooks.channels.twilio import TwilioAdapter, public_request_url
from webhooks.channels.whatsapp_cloud import WhatsAppCloudAdapter
from webhooks.security import (
    escape_unicode,
    verify_bearer,
    verify_meta_signature,
    verify_twilio_signature,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "channels"
META = json.loads((FIXTURES / "signature_vectors__meta_x_hub_signature_256.json").read_text())
TWILIO = json.loads((FIXTURES / "signature_vectors__twilio_python.json").read_text())
REAL_BODY = (FIXTURES / "cloud_msg_text_REAL_SIGNED_exact_bytes__pywa.json").read_bytes()
REAL_SECRET = "1222e786b144d0e85b9f365372d93676"


def _meta_cases() -> list[tuple[bytes, str, str]]:
    """(body, header, secret) for every Meta vector in the fixture file."""
    cases = []
    for vector in META["vectors"]:
        secret = vector["app_secret"].split(" ")[0]
        body = REAL_BODY if "body_file" in vector else vector["body"].encode()
        header = vector.get("expected_header") or "sha256=" + vector["expected_hex"]
        cases.append((body, header, secret))
    for vector in META["derived_by_us"]:
        if "body" in vector:
            cases.append((vector["body"].encode(), "sha256=" + vector["expected_hex"],
                          vector["app_secret"]))
        else:
            for key in ("body_raw_utf8", "body_escaped"):
                cases.append((vector[key].encode(), "sha256=" + vector["hmac_escaped"],
                              vector["app_secret"]))
            cases.append((vector["body_raw_utf8"].encode(), "sha256=" + vector["hmac_raw_utf8"],
                          vector["app_secret"]))
    return cases


META_CASES = _meta_cases()


@pytest.mark.parametrize(("body", "header", "secret"), META_CASES)
def test_meta_vectors_verify(body: bytes, header: str, secret: str) -> None:
    assert verify_meta_signature(body, header, secret)
    assert verify_meta_signature(body, header.upper().replace("SHA256=", "sha256="), secret)


@pytest.mark.parametrize(("body", "header", "secret"), META_CASES)
def test_meta_tampering_fails(body: bytes, header: str, secret: str) -> None:
    assert not verify_meta_signature(body + b" ", header, secret)
    assert not verify_meta_signature(body.replace(b"e", b"E", 1), header, secret)
    assert not verify_meta_signature(body, header, secret + "x")
    flipped = header[:-1] + ("0" if header[-1] != "0" else "1")
    assert not verify_meta_signature(body, flipped, secret)
    assert not verify_meta_signature(body, header.removeprefix("sha256="), secret)
    assert not verify_meta_signature(body, header.replace("sha256=", "sha1="), secret)


@pytest.mark.parametrize("secret", [None, ""])
def test_meta_missing_secret_or_header_fails(secret: str | None) -> None:
    assert not verify_meta_signature(REAL_BODY, META["vectors"][0]["expected_header"], secret)
    assert not verify_meta_signature(REAL_BODY, None, REAL_SECRET)
    assert not verify_meta_signature(REAL_BODY, "", REAL_SECRET)


def test_reserialised_body_does_not_verify() -> None:
    reserialised = json.dumps(json.loads(REAL_BODY)).encode()
    assert not verify_meta_signature(reserialised, META["vectors"][0]["expected_header"],
                                     REAL_SECRET)


def test_escape_unicode_matches_meta() -> None:
    assert escape_unicode("äöå") == "\\u00e4\\u00f6\\u00e5"
    assert escape_unicode("😮") == "\\ud83d\\ude2e"  # UTF-16 surrogates, like pywa's fixture
    assert escape_unicode("plain ~") == "plain ~"


def test_cloud_adapter_verifies_the_real_delivery_with_any_header_case() -> None:
    adapter = WhatsAppCloudAdapter(Settings().with_env(WHATSAPP_APP_SECRET=REAL_SECRET))
    header = META["vectors"][0]["expected_header"]
    assert adapter.verify(url="/webhooks/whatsapp", headers={"X-Hub-Signature-256": header},
                          body=REAL_BODY)
    assert adapter.verify(url="/", headers={"x-hub-signature-256": header}, body=REAL_BODY)
    assert not adapter.verify(url="/", headers={}, body=REAL_BODY)
    unconfigured = WhatsAppCloudAdapter(Settings())
    assert not unconfigured.verify(url="/", headers={"X-Hub-Signature-256": header},
                                   body=REAL_BODY)


def test_simulated_cloud_request_verifies() -> None:
    body, headers = sim.signed_cloud_request("app-secret", sim.cloud_text("২টা মশলা চা"))
    assert body.isascii()  # non-ASCII travels \u-escaped, as from Meta
    adapter = WhatsAppCloudAdapter(Settings().with_env(WHATSAPP_APP_SECRET="app-secret"))
    assert adapter.verify(url="/webhooks/whatsapp", headers=headers, body=body)
    (msg,) = adapter.parse(body, headers).messages
    assert msg.text == "২টা মশলা চা"


def test_verify_subscription() -> None:
    adapter = WhatsAppCloudAdapter(Settings().with_env(WHATSAPP_VERIFY_TOKEN="meatyhamhock"))
    good = {"hub.mode": "subscribe", "hub.challenge": "1158201444",
            "hub.verify_token": "meatyhamhock"}
    assert adapter.verify_subscription(good) == "1158201444"
    assert adapter.verify_subscription({**good, "hub.verify_token": "nope"}) is None
    assert adapter.verify_subscription({**good, "hub.mode": "unsubscribe"}) is None
    assert adapter.verify_subscription({"hub.mode": "subscribe"}) is None
    assert WhatsAppCloudAdapter(Settings()).verify_subscription(good) is None


# ---- Twilio ---------------------------------------------------------------------------------


def _twilio_cases() -> list[tuple[str, Any, str, str]]:
    """(url, params, signature, token) for every Twilio vector."""
    token, params = TWILIO["auth_token"], TWILIO["params"]
    cases = [(TWILIO["url"], params, TWILIO["expected"], token)]
    for label, sig in TWILIO["port_variants"].items():
        url = label.split(" ")[0]
        if "(with :80)" in label:
            url = "http://mycompany.com:80/myapp.php?foo=1&bar=2"
        cases.append((url, params, sig, token))
    dup = TWILIO["duplicate_keys_case"]
    cases.append((TWILIO["url"], MultiDict(dup["params_multidict"]), dup["expected"], token))
    body = TWILIO["json_body_case"]
    cases.append((body["url"], body["body"], body["expected"], token))
    docs = TWILIO["twilio_docs_example"]
    cases.append((docs["url"], docs["params"], docs["expected"], docs["auth_token"]))
    derived = TWILIO["derived_by_us_whatsapp_form"]
    form = json.loads((FIXTURES / derived["params_file"]).read_text())
    cases.append((derived["url"], form, derived["expected"], derived["auth_token"]))
    return cases


TWILIO_CASES = _twilio_cases()


@pytest.mark.parametrize(("url", "params", "signature", "token"), TWILIO_CASES)
def test_twilio_vectors_verify(url: str, params: Any, signature: str, token: str) -> None:
    assert verify_twilio_signature(url, params, signature, token)


@pytest.mark.parametrize(("url", "params", "signature", "token"), TWILIO_CASES)
def test_twilio_tampering_fails(url: str, params: Any, signature: str, token: str) -> None:
    assert not verify_twilio_signature(url, params, signature, token + "0")
    assert not verify_twilio_signature(url + "&x=1", params, signature, token)
    assert not verify_twilio_signature(url.replace("/myapp", "/other").replace(
        "/twilio", "/other"), params, signature, token)
    assert not verify_twilio_signature(url, params, signature[:-2] + "A=", token)
    if isinstance(params, dict) and params:
        key = sorted(params)[0]
        assert not verify_twilio_signature(url, {**params, key: params[key] + "1"},
                                           signature, token)


def test_twilio_validate_accepts_both_default_port_forms() -> None:
    token, params = TWILIO["auth_token"], TWILIO["params"]
    assert verify_twilio_signature("https://mycompany.com:443/myapp.php?foo=1&bar=2", params,
                                   TWILIO["expected"], token)
    assert verify_twilio_signature(TWILIO["url"], params, "kvajT1Ptam85bY51eRf/AJRuM3w=",
                                   token)
    # scheme is never fixed up: an https-signed request does not verify as http
    assert not verify_twilio_signature(TWILIO["url"].replace("https", "http"), params,
                                       TWILIO["expected"], token)


@pytest.mark.parametrize("token", [None, ""])
def test_twilio_missing_token_or_signature_fails(token: str | None) -> None:
    assert not verify_twilio_signature(TWILIO["url"], TWILIO["params"], TWILIO["expected"],
                                       token)
    assert not verify_twilio_signature(TWILIO["url"], TWILIO["params"], None, "12345")
    assert not verify_twilio_signature(TWILIO["url"], TWILIO["params"], "", "12345")


@pytest.mark.parametrize(("public", "seen", "expected"), [
    ("https://bot.example.com", "http://10.0.0.5:8080/twilio/whatsapp",
     "https://bot.example.com/twilio/whatsapp"),
    ("https://bot.example.com/", "/webhooks/twilio?a=%27b%27",
     "https://bot.example.com/webhooks/twilio?a=%27b%27"),
    ("https://example.com/haat", "/webhooks/twilio", "https://example.com/haat/webhooks/twilio"),
    ("https://example.com/haat", "/haat/webhooks/twilio",
     "https://example.com/haat/webhooks/twilio"),
])
def test_public_request_url(public: str, seen: str, expected: str) -> None:
    assert public_request_url(public, seen) == expected


def test_twilio_adapter_uses_the_public_url_not_the_request_host() -> None:
    form = json.loads((FIXTURES / "twilio_inbound_text__courier.json").read_text())
    body = urlencode(form).encode()
    headers = {"x-twilio-signature": TWILIO["derived_by_us_whatsapp_form"]["expected"],
               "Content-Type": "application/x-www-form-urlencoded"}
    adapter = TwilioAdapter(Settings(
                                     public_url="https://bot.example.com").with_env(TWILIO_AUTH_TOKEN="12345"))
    assert adapter.verify(url="http://127.0.0.1:8080/twilio/whatsapp", headers=headers,
                          body=body)
    assert not adapter.verify(url="/twilio/other", headers=headers, body=body)
    assert not adapter.verify(url="/twilio/whatsapp", headers=headers, body=body + b"&X=1")
    wrong_host = TwilioAdapter(Settings(
                                        public_url="https://evil.example.com").with_env(TWILIO_AUTH_TOKEN="12345"))
    assert not wrong_host.verify(url="/twilio/whatsapp", headers=headers, body=body)
    unconfigured = TwilioAdapter(Settings(public_url="https://bot.example.com"))
    assert not unconfigured.verify(url="/twilio/whatsapp", headers=headers, body=body)


def test_simulated_twilio_request_verifies_with_repeated_keys() -> None:
    url = "https://bot.example.com/webhooks/twilio"
    params = [*sim.twilio_media([("https://m/1.jpg", "image/jpeg"),
                                 ("https://m/2.png", "image/png")]).items(), ("Extra", "a"),
              ("Extra", "b")]
    body, headers = sim.signed_twilio_request(url, "tok", params)
    adapter = TwilioAdapter(Settings(
                                     public_url="https://bot.example.com").with_env(TWILIO_AUTH_TOKEN="tok"))
    assert adapter.verify(url="/webhooks/twilio", headers=headers, body=body)
    tampered = body.replace(b"Extra=b", b"Extra=c")
    assert not adapter.verify(url="/webhooks/twilio", headers=headers, body=tampered)


def test_twilio_adapter_json_body_variant() -> None:
    case = TWILIO["json_body_case"]
    adapter = TwilioAdapter(Settings(
                                     public_url="https://mycompany.com").with_env(TWILIO_AUTH_TOKEN="12345"))
    headers = {"X-Twilio-Signature": case["expected"], "Content-Type": "application/json"}
    url = case["url"].removeprefix("https://mycompany.com")
    assert adapter.verify(url=url, headers=headers, body=case["body"].encode())
    assert not adapter.verify(url=url, headers=headers, body=case["body"].encode() + b" ")


# ---- bearer and generic HMAC ---------------------------------------------------------------


def test_verify_bearer() -> None:
    assert verify_bearer("Bearer s3cret", "s3cret")
    assert verify_bearer("bearer  s3cret ", "s3cret")
    assert not verify_bearer("Bearer s3cret", "other")
    assert not verify_bearer("Basic s3cret", "s3cret")
    assert not verify_bearer("s3cret", "s3cret")
    assert not verify_bearer(None, "s3cret")
    assert not verify_bearer("Bearer ", "")
    assert not verify_bearer("Bearer s3cret", None)
    assert not verify_bearer("Bearer sécret", "s3cret")  # non-ASCII never raises


def test_verify_hex_on_a_meta_vector() -> None:
    vector = next(v for v in META["vectors"] if v.get("expected_hex")
                  and v["app_secret"] == "secret")
    assert verify_hex("secret", b"test", vector["expected_hex"])
    assert verify_hex("secret", b"test", vector["expected_hex"].upper())
    assert not verify_hex("secret", b"test!", vector["expected_hex"])
    assert not verify_hex(None, b"test", vector["expected_hex"])
    assert not verify_hex("secret", b"test", None)
    assert not verify_hex("secret", b"test", "zz\u00e9")


# Found by `make mutants` (docs/TESTING.md): the generic check's edges.
def test_an_empty_secret_never_verifies_even_its_own_signature() -> None:
    body = b'{"a":1}'
    assert not verify_hex("", body, hmac_sha256_hex("", body))
    assert not verify_hex(b"", body, hmac_sha256_hex(b"", body))
    assert not verify_hex(["", None], body, hmac_sha256_hex("", body))  # type: ignore[list-item]


def test_any_configured_secret_verifies_in_any_order_and_bytes_keys_work() -> None:
    body = b'{"a":1}'
    old = hmac_sha256_hex(b"old-secret", body)
    assert verify_hex(b"old-secret", body, old)
    assert verify_hex(["old-secret", "new-secret"], body, old)  # the match comes first
    assert verify_hex(["new-secret", "old-secret"], body, old.upper())
    assert not verify_hex(["new-secret", "other"], body, old)
