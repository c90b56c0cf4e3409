"""haat against a REAL Rasa 3.6 server (own Python 3.10 venv), not tests/fakes/rasa.py.

The fake proves the HTTP contract; this proves the exported project trains on the real Rasa,
that the real server's answers map onto our intent names in all four languages, that the
fallback holds when the server goes away, and records what ``haat nlu eval`` scores with it.

One server serves the whole module (starting Rasa costs about a minute): the fixture creates
``.rasa-venv`` if missing (``scripts/rasa-setup.sh``), trains with the model cached by the
training data's hash, starts ``rasa run`` on a free loopback port and stops it at the end.
The test that stops the server runs last (tests run in file order).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.nlu.base import ParseContext
from bot.nlu.builtin import build_builtin
from bot.nlu.rasa_http import RasaHttpBackend
from bot.nlu.training import load_rasa_nlu
from catalog.models import Shop
from tests.localhost import free_port
from webhooks.plugins import load_shop

ROOT = Path(__file__).resolve().parents[2]
RASA_VENV = ROOT / ".rasa-venv"
LOG_DIR = ROOT / ".rasa-models"
TEST_SET = ROOT / "tests" / "nlu" / "test_set.yml"
SETUP_TIMEOUT = 1800  # first-time pip install of rasa + tensorflow (measured: ~2 min)
TRAIN_TIMEOUT = 900  # only when the training data changed (measured: ~2.5 min)
START_TIMEOUT = 240  # rasa run: TensorFlow import + model load (measured: ~60 s on 2 cores)
# one worker runs the whole module under pytest-xdist (scripts/test.sh: --dist loadgroup):
# one server, and the stop test last
pytestmark = pytest.mark.xdist_group("real-rasa")
LAST_LINE = re.compile(
    r"^accuracy=(?P<acc>[01]\.\d{4}) macro_f1=(?P<f1>[01]\.\d{4}) n=(?P<n>\d+)$")


@dataclass
class RealRasa:
    """A running ``rasa run --enable-api`` and how to stop it."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM the process group (bash exec'd rasa, so it is one process), then SIGKILL."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _request(port: int, method: str, path: str, body: object = None) -> tuple[int, str]:
    """One loopback HTTP exchange with the Rasa server (stdlib: usable outside the loop)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        payload = None if body is None else json.dumps(body).encode()
        connection.request(method, path, payload, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def _answers(port: int) -> bool:
    try:
        return _request(port, "GET", "/status")[0] == 200
    except OSError:
        return False


def _script(*args: str, timeout: float) -> str:
    done = subprocess.run(["bash", *args],  # noqa: S603, S607 - our own scripts
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


@pytest.fixture(scope="session")
def real_rasa() -> Iterator[RealRasa]:
    if not (RASA_VENV / "bin" / "rasa").exists():
        _script("scripts/rasa-setup.sh", timeout=SETUP_TIMEOUT)
    model = _script("scripts/rasa-serve.sh", "--train-only", timeout=TRAIN_TIMEOUT).strip()
    assert model.endswith(".tar.gz") and (ROOT / model).is_file(), model
    port = free_port()
    log = LOG_DIR / f"test-server-{port}.out"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own script, a separate server
            ["bash", "scripts/rasa-serve.sh", str(port)], cwd=ROOT,  # noqa: S607
                                   stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = RealRasa(port, process, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(port):
            if not server.running():
                pytest.fail(f"rasa run exited {process.returncode}:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"rasa did not answer /status in {START_TIMEOUT}s:\n"
                            f"{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        server.stop()
        log.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def demo_shop() -> Shop:
    return load_shop(ROOT / "config")


@pytest.fixture
async def web() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


# (text, expected intent): clear cases in each language, none copied from the training data.
SENTENCES = [
    ("menu", "browse_catalog"),
    ("how much is samosa", "product_price"),
    ("2 masala chai", "add_to_cart"),
    ("what's in my cart", "view_cart"),
    ("please cancel my order", "cancel_order"),
    ("मेनू दिखाइए", "browse_catalog"),
    ("समोसा कितने का है", "product_price"),
    ("2 मसाला चाय दे दो", "add_to_cart"),
    ("बहुत धन्यवाद", "thanks"),
    ("মেনু দেখান", "browse_catalog"),
    ("সিঙাড়ার দাম কত", "product_price"),
    ("২টা মশলা চা দিন", "add_to_cart"),
    ("অনেক ধন্যবাদ", "thanks"),
    ("أرني القائمة", "browse_catalog"),
    ("كم سعر سمبوسة", "product_price"),
    ("أريد 2 شاي ماسالا", "add_to_cart"),
    ("شكرا جزيلا", "thanks"),
]


def _raw_parse(server: RealRasa, text: str) -> dict[str, Any]:
    status, body = _request(server.port, "POST", "/model/parse", {"text": text})
    assert status == 200, body
    data: dict[str, Any] = json.loads(body)
    return data


def test_the_real_server_is_rasa_3_6_and_answers_in_rasa_3_shape(real_rasa: RealRasa) -> None:
    status, body = _request(real_rasa.port, "GET", "/version")
    assert status == 200 and json.loads(body)["version"].startswith("3.6."), body
    data = _raw_parse(real_rasa, "how much is samosa")
    assert data["text"] == "how much is samosa"
    assert data["intent"]["name"] == "product_price"
    assert data["intent_ranking"][0]["name"] == "product_price"
    # DIET tags the product and the synonym mapper turns the words into our sku.
    assert {(e["entity"], e["value"]) for e in data["entities"]} >= {("product", "SAMOSA")}


@pytest.mark.parametrize(("text", "intent"), SENTENCES)
async def test_rasa_parses_our_languages_into_our_intents(
        real_rasa: RealRasa, demo_shop: Shop, web: aiohttp.ClientSession,
        text: str, intent: str) -> None:
    # No fallback: a failed call would read as out_of_scope, never as the expected intent.
    backend = RasaHttpBackend(real_rasa.url, web, timeout=10.0)
    understood = await backend.parse(text, ParseContext(shop=demo_shop))
    assert understood.intent == intent, (text, understood)
    assert understood.confidence >= 0.5
    assert understood.ranking[0][0] == intent
    assert _raw_parse(real_rasa, text)["intent"]["name"] == intent  # Rasa's own answer


@pytest.mark.parametrize(("text", "language"), [
    ("2 masala chai", "en"), ("2 मसाला चाय चाहिए", "hi"), ("২টা মশলা চা দিন", "bn"),
    ("أريد 2 شاي ماسالا", "ar"),
])
async def test_items_and_quantities_come_from_our_extractor_beside_rasas_intent(
        real_rasa: RealRasa, demo_shop: Shop, web: aiohttp.ClientSession,
        text: str, language: str) -> None:
    backend = RasaHttpBackend(real_rasa.url, web, timeout=10.0)
    understood = await backend.parse(text, ParseContext(shop=demo_shop))
    assert understood.intent == "add_to_cart"
    assert understood.language == language
    assert [(i.sku, i.quantity) for i in understood.items] == [("MASALA-CHAI", 2)]


def test_haat_nlu_eval_with_the_real_rasa_prints_the_machine_read_last_line(
        real_rasa: RealRasa, record_property: Any) -> None:
    env = {**os.environ, "HAAT_RASA_URL": real_rasa.url}
    env.pop("HAAT_NLU_BACKEND", None)
    done = subprocess.run(  # noqa: S603 - our own CLI
        [str(ROOT / ".venv" / "bin" / "haat"), "nlu", "eval", str(TEST_SET), "--backend", "rasa"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    # Every example reached Rasa: a fallback to the built-in classifier logs this warning.
    assert "rasa parse failed" not in done.stderr, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    match = LAST_LINE.match(last)
    assert match is not None, last
    assert match["n"] == str(len(load_rasa_nlu(TEST_SET)))
    accuracy, macro_f1 = float(match["acc"]), float(match["f1"])
    record_property("rasa_accuracy", accuracy)
    record_property("rasa_macro_f1", macro_f1)
    print(f"\nreal Rasa 3.6 on tests/nlu/test_set.yml: {last}")
    # Measured 0.96 / 0.96 (docs/NLU.md); a broken export or mapping lands far below this.
    assert accuracy >= 0.85 and macro_f1 >= 0.85, last


# Keep last: it stops the module's server.
async def test_the_backend_falls_back_cleanly_when_the_server_is_stopped(
        real_rasa: RealRasa, demo_shop: Shop, web: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    context = ParseContext(shop=demo_shop)
    builtin = build_builtin(demo_shop)
    with_fallback = RasaHttpBackend(real_rasa.url, web, timeout=10.0, fallback=builtin)
    alone = RasaHttpBackend(real_rasa.url, web, timeout=10.0)
    text = "how much is samosa"
    assert (await alone.parse(text, context)).intent == "product_price"  # the server is up

    real_rasa.stop()
    assert not real_rasa.running() and not _answers(real_rasa.port)

    with caplog.at_level(logging.WARNING, logger="bot.nlu.rasa_http"):
        began = time.perf_counter()
        fallen = await with_fallback.parse(text, context)
        elapsed = time.perf_counter() - began
        lost = await alone.parse(text, context)
    assert fallen == await builtin.parse(text, context)
    assert fallen.intent == "product_price"
    assert [i.sku for i in fallen.items] == ["SAMOSA"]
    assert elapsed < 1.0  # connection refused: no waiting for the 10 s timeout
    assert (lost.intent, lost.confidence) == ("out_of_scope", 0.0)
    warnings = [r for r in caplog.records if "rasa parse failed" in r.getMessage()]
    assert len(warnings) == 2
    assert all(text not in r.getMessage() for r in caplog.records)  # no message text logged
