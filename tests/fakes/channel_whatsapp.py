"""How the channel contract suites feed the Cloud API: its fixtures (``cloud_*``, and the
on-premises 360dialog shape ``onprem360_*``) are webhook bodies, sent as they are."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path

from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi, run_fake_graph_api

FIXTURE_PREFIXES = ("cloud_", "onprem360_")


def fixture_body(path: Path) -> bytes:
    return path.read_bytes()


# its REST API, for the contract suites over every channel that sends by REST
# (tests/contract/test_outbox_sender.py)
RATE_LIMIT_CODE = 130429  # Meta's "too many messages" for the business number


def rest_api() -> AbstractAsyncContextManager[FakeGraphApi]:
    return run_fake_graph_api()


def rest_env(fake: FakeGraphApi) -> dict[str, str]:
    return {"WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN, "WHATSAPP_API_BASE_URL": fake.url}


def sent_texts(fake: FakeGraphApi) -> list[str]:
    return [r.json["text"]["body"] for r in fake.received]
