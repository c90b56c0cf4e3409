"""How the channel contract suites feed Twilio: its fixtures (``twilio_*``) are the POSTed
form fields as JSON, sent form-encoded as Twilio does."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from urllib.parse import urlencode

from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi, run_fake_twilio_api

FIXTURE_PREFIXES = ("twilio_",)


def fixture_body(path: Path) -> bytes:
    return urlencode(json.loads(path.read_text())).encode()


# its REST API, for the contract suites over every channel that sends by REST
# (tests/contract/test_outbox_sender.py)
RATE_LIMIT_CODE = 20429  # Twilio's "too many requests"


def rest_api() -> AbstractAsyncContextManager[FakeTwilioApi]:
    return run_fake_twilio_api()


def rest_env(fake: FakeTwilioApi) -> dict[str, str]:
    return {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": fake.url}


def sent_texts(fake: FakeTwilioApi) -> list[str]:
    return [r.form["Body"][0] for r in fake.received]
