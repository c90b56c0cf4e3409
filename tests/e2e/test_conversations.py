"""The conversation test corpus (tests/conversations/*.yml) run by ``make test``.

Every file goes through ``webhooks.conversation_tests.run_files``, exactly like
``haat test tests/conversations/*.yml``: the real app on loopback, a fresh SQLite file per
case, the sandbox PSP calling back over HTTP. A second part checks what the YAML runner
cannot see: the alerts that reach the owner's phone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config.settings import Settings
from webhooks.conversation_tests import Runner, load_cases, run_files

CORPUS = Path(__file__).resolve().parent.parent / "conversations"
MIN_CASES = 40
FLOW_FILES = ("cart.yml", "checkout.yml", "orders.yml", "handoff.yml", "reminders.yml",
              "merchant.yml", "payments.yml", "languages.yml")


def _files() -> list[Path]:
    return sorted(CORPUS.glob("*.yml"))


def test_the_corpus_covers_every_flow_with_enough_cases() -> None:
    names = {path.name for path in _files()}
    assert set(FLOW_FILES) <= names
    total = sum(len(load_cases(path)) for path in _files())
    assert total >= MIN_CASES


async def test_every_conversation_passes(settings: Settings) -> None:
    passed, failed, report = await run_files(_files(), settings)
    assert failed == 0, report
    assert passed >= MIN_CASES
    assert passed == sum(len(load_cases(path)) for path in _files())


async def test_a_broken_expectation_is_reported(settings: Settings, tmp_path: Path) -> None:
    """The runner must be able to fail: a wrong amount is caught and shown."""
    case = tmp_path / "wrong.yml"
    case.write_text("- name: wrong total\n  steps:\n    - user: 2 samosa\n"
                    "      reply: {contains: \"₹99.00\"}\n      cart: {SAMOSA: 3}\n",
                    encoding="utf-8")
    passed, failed, report = await run_files([case], settings)
    assert (passed, failed) == (0, 1)
    assert "does not contain '₹99.00'" in report and "cart is {'SAMOSA': 2}" in report


async def _say(runner: Runner, phone: str, text: str) -> list[dict[str, Any]]:
    status, data = await runner.send(phone, {"text": text})
    assert status == 200, data
    replies: list[dict[str, Any]] = data["replies"]
    return replies + await runner.outbox(phone)


async def test_owners_are_alerted_on_handoff_and_on_a_paid_cancel(settings: Settings) -> None:
    shopper, owner = "+919000000007", "+919811111111"
    async with Runner(settings, Path(settings.shop_dir)) as runner:
        await _say(runner, owner, "help")  # the owner's 24-hour window is open: full alerts
        await _say(runner, shopper, "2 samosa")
        await _say(runner, shopper, "talk to a person")
        alerts = " ".join(m["text"] for m in await runner.outbox(owner))
        assert "asked for a person" in alerts and "> 2 samosa" in alerts
        assert f"resume {shopper}" in alerts
        # while paused the shopper's messages are passed on to the owner, not answered
        assert await _say(runner, shopper, "are you there?") == []
        assert "are you there?" in " ".join(m["text"] for m in await runner.outbox(owner))
        back = await _say(runner, owner, f"resume {shopper}")
        assert any("Bot resumed" in m["text"] for m in back)
        assert any("I'm back" in m["text"] for m in await runner.outbox(shopper))

        await _say(runner, shopper, "checkout")
        await _say(runner, shopper, "12 Lake Road, Salt Lake")
        status, data = await runner.send(shopper, {"button": "confirm"})
        assert status == 200 and "ORD-1001" in data["replies"][0]["text"]
        assert "New order ORD-1001" in " ".join(m["text"] for m in await runner.outbox(owner))
        assert await runner.pay(shopper, "success") is None
        paid = " ".join(m["text"] for m in await runner.outbox(owner))
        assert "ORD-1001 paid: ₹54.00" in paid and "ship ORD-1001" in paid
        await _say(runner, shopper, "cancel my order")
        asked = " ".join(m["text"] for m in await runner.outbox(owner))
        assert "asks to cancel" in asked and "refund ORD-1001" in asked
        assert await runner.latest_order_status(shopper) == "paid"


def test_every_flow_has_a_mermaid_diagram_beside_it() -> None:
    bot = CORPUS.parent.parent / "bot"
    modules = [p for p in (bot / "flows").glob("*.py") if p.stem not in ("__init__", "common")]
    for module in [*modules, bot / "reminders.py"]:
        diagram = module.with_suffix(".mmd")
        assert diagram.exists(), f"{module.name} has no {diagram.name}"
        body = [line.strip() for line in diagram.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.strip().startswith("%%")]
        assert body[0].startswith(("stateDiagram-v2", "flowchart")), diagram.name
        assert len(body) > 3, diagram.name
