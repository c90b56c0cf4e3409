"""How the channel contract suites feed Twilio: its fixtures (``twilio_*``) are the POSTed
form fields as JSON, sent form-encoded as Twilio does."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

FIXTURE_PREFIXES = ("twilio_",)


def fixture_body(path: Path) -> bytes:
    return urlencode(json.loads(path.read_text())).encode()
