"""One server for many shops, and every `haat` command as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from config.settings import Settings
from tests.conftest import ROOT, SIM_TOKEN, AiohttpClient

EXAMPLES = ROOT / "examples"
AUTH = {"Authorization": f"Bearer {SIM_TOKEN}"}


async def test_each_message_goes_to_the_shop_it_was_sent_to(
        aiohttp_client: AiohttpClient, settings: Settings) -> None:
    from webhooks.app import create_app

    client = await aiohttp_client(create_app(settings.with_(shop_dir=EXAMPLES)))

    async def say(to: str, text: str, n: int) -> tuple[int, dict[str, Any]]:
        response = await client.post("/webhooks/simulator", headers=AUTH, json={
            "from": "+919000000123", "to": to, "text": text, "id": f"multi-{n}"})
        return response.status, await response.json()

    status, dhaka = await say("+8801700000000", "২ কেজি আলু", 1)
    assert status == 200
    assert "৳110.00" in "\n".join(r["text"] for r in dhaka["replies"])
    status, dubai = await say("+971 50 000 0000", "أريد ٢ مناقيش", 2)
    assert status == 200
    assert "AED 12.00" in "\n".join(r["text"] for r in dubai["replies"])
    status, dhaka_cart = await say("+8801700000000", "cart", 3)
    text = "\n".join(r["text"] for r in dhaka_cart["replies"])
    assert "৳110.00" in text and "AED" not in text  # one cart per shop
    status, unknown = await say("+10000000000", "hi", 4)
    assert status == 404 and "no shop" in unknown["error"]


def _haat(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "webhooks", *args], input=stdin, capture_output=True,
        text=True, cwd=cwd or ROOT, timeout=180, check=False,
        env={**os.environ, **(env or {})})


def test_haat_check_prints_file_line_column_and_exits_1(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "shop.yaml").write_text(
        (ROOT / "config" / "shop.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    catalog = (ROOT / "config" / "catalog.yaml").read_text(encoding="utf-8")
    (shop / "catalog.yaml").write_text(catalog.replace('price: "12.00"', 'price: "12.005"', 1),
                                       encoding="utf-8")
    bad = _haat("check", str(shop))
    assert bad.returncode == 1
    line = next(n for n, text in enumerate(catalog.splitlines(), 1) if 'price: "12.00"' in text)
    assert re.search(rf"catalog\.yaml:{line}:\d+: .*decimals", bad.stdout), bad.stdout
    good = _haat("check", "config")
    assert good.returncode == 0 and good.stdout.startswith("ok: ")


def test_haat_chat_talks_through_the_webhook_path(tmp_path: Path) -> None:
    done = _haat("chat", "--shop", "config", stdin="hello\n2 samosa\ncart\n",
                 env={"HAAT_DATABASE_URL": f"sqlite:///{tmp_path / 'chat.db'}"})
    assert done.returncode == 0, done.stderr
    assert "Mitra Tea House" in done.stdout
    assert "2 × Samosa — ₹24.00" in done.stdout


def test_haat_test_reports_passes_and_failures(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yml"
    cases.write_text("- name: right\n  steps:\n    - user: 2 samosa\n      cart: {SAMOSA: 2}\n"
                     "- name: wrong\n  steps:\n    - user: 2 samosa\n      cart: {SAMOSA: 3}\n",
                     encoding="utf-8")
    done = _haat("test", str(cases), "--shop", "config")
    assert done.returncode == 1
    assert done.stdout.strip().splitlines()[-1] == "1 passed, 1 failed"
    assert "FAIL cases.yml: wrong" in done.stdout


def test_haat_db_upgrade_and_reconcile(tmp_path: Path) -> None:
    env = {"HAAT_DATABASE_URL": f"sqlite:///{tmp_path / 'up.db'}"}
    up = _haat("db", "upgrade", env=env)
    assert up.returncode == 0 and "latest revision" in up.stdout
    assert (tmp_path / "up.db").exists()
    reconcile = _haat("reconcile", env=env)
    assert reconcile.returncode == 0 and "ledger_balanced=True" in reconcile.stdout


def test_haat_rasa_export_and_nlu_eval(tmp_path: Path) -> None:
    out = tmp_path / "rasa"
    done = _haat("rasa", "export", str(out))
    assert done.returncode == 0
    for name in ("config.yml", "domain.yml", "data/nlu.yml"):
        assert (out / name).stat().st_size > 0
    evaluated = _haat("nlu", "eval", "tests/nlu/test_set.yml")
    assert evaluated.returncode == 0
    last = evaluated.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"accuracy=(\d\.\d{4}) macro_f1=(\d\.\d{4}) n=(\d+)", last)
    assert match is not None and float(match.group(2)) >= 0.92 and int(match.group(3)) >= 400


def test_nlu_eval_mistakes_zero_prints_scores_only() -> None:
    """``--mistakes 0`` scores an unread split without printing one of its messages."""
    done = _haat("nlu", "eval", "tests/nlu/extraction/corpus/holdout", "--mistakes", "0")
    assert done.returncode == 0
    assert "cart_exact" in done.stdout and "accuracy=" in done.stdout
    assert "mistakes" not in done.stdout
