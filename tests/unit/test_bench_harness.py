"""The benchmark's pre-signed requests are accepted by the real app, byte for byte as wrk
sends them (no timing assertions: this checks the harness, not the speed)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bench import loadgen, profile, traffic
from bench.growth import product_names, write_shop
from bench.report import Report, render
from bench.run import Options, RunResult, make_traffic, rotated
from config.settings import Settings
from tests.conftest import DEMO_SHOP, AiohttpClient
from tests.fakes.graph_api import run_fake_graph_api

PUBLIC_URL = "http://127.0.0.1:8080"
SECRETS = traffic.Secrets(public_url=PUBLIC_URL)


def _settings(tmp_path: Path, graph_url: str) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'bench.db'}", public_url=PUBLIC_URL,
        shop_dir=DEMO_SHOP).with_env(
            HAAT_SIMULATOR_TOKEN=SECRETS.simulator_token,
            TWILIO_ACCOUNT_SID=SECRETS.twilio_account_sid,
            TWILIO_AUTH_TOKEN=SECRETS.twilio_auth_token,
            WHATSAPP_APP_SECRET=SECRETS.whatsapp_app_secret,
            WHATSAPP_VERIFY_TOKEN=SECRETS.whatsapp_verify_token,
            WHATSAPP_ACCESS_TOKEN=SECRETS.whatsapp_access_token, WHATSAPP_API_BASE_URL=graph_url)


async def _send_raw(client: TestClient[Any, Any], raw: bytes) -> tuple[int, bytes]:
    """Write wrk's exact bytes on a loopback socket; (status, body) of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        return int(head[9:12]), await reader.readexactly(length)
    finally:
        writer.close()


async def test_generated_requests_are_accepted_by_the_real_app(
        aiohttp_client: AiohttpClient, tmp_path: Path) -> None:
    from webhooks.app import create_app

    # 15 shoppers cover every (language, channel) pair; two steps each: greet, then menu
    requests = list(traffic.generate(SECRETS, 30, n_shoppers=15, run_id="t"))
    assert {r.channel for r in requests} == set(traffic.CHANNELS)
    async with run_fake_graph_api(SECRETS.whatsapp_access_token) as graph:
        client = await aiohttp_client(create_app(_settings(tmp_path, graph.url)))
        for request in requests:
            status, body = await _send_raw(client, request.raw("127.0.0.1"))
            assert status == 200, (request.channel, body[:200])
            if request.channel == "simulator":
                assert b'"replies": [{' in body
            elif request.channel == "twilio":
                assert b"<Message>" in body
        await client.app[_outbox_key()].drain()
        cloud = [r for r in requests if r.channel == "whatsapp"]
        assert len(graph.received) >= len(cloud)  # every Cloud message got a reply sent
        metrics = await (await client.get("/metrics")).text()
        assert f"haat_inbound_messages_total {len(requests)}" in metrics
        assert "haat_duplicate_messages_total 0" in metrics
        samples = _samples(metrics)
        # every turn, every parse (a typed "menu" that matches a shown option skips the
        # NLU), every write set, every Cloud send is one observation of its histogram
        assert samples["haat_turn_seconds_count"] == len(requests)
        assert 0 < samples["haat_nlu_seconds_count"] <= len(requests)
        assert samples["haat_storage_commit_seconds_count"] >= len(requests)
        assert samples['haat_send_seconds_count{channel="whatsapp"}'] >= len(cloud)
        assert samples['haat_turn_seconds_bucket{le="+Inf"}'] == len(requests)
        # a second app in the same process counts from zero: one registry per app
        (tmp_path / "other").mkdir()
        other = await aiohttp_client(create_app(_settings(tmp_path / "other", graph.url)))
        again = _samples(await (await other.get("/metrics")).text())
        assert again["haat_turn_seconds_count"] == 0
        assert again["haat_inbound_messages_total"] == 0


def _samples(text: str) -> dict[str, float]:
    """/metrics as ``name{labels}`` → value, parsed by prometheus_client's own parser."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return out


def _outbox_key() -> web.AppKey[Any]:
    from webhooks.keys import OUTBOX

    return OUTBOX


async def test_a_tampered_signature_is_refused(aiohttp_client: AiohttpClient,
                                               tmp_path: Path) -> None:
    from webhooks.app import create_app

    client = await aiohttp_client(create_app(_settings(tmp_path, "http://127.0.0.1:9")))
    people = traffic.shoppers(15)
    for channel in ("twilio", "whatsapp"):
        person = next(p for p in people if p.channel == channel)
        good = traffic.build_request(SECRETS, person, "hi", f"tamper-{channel}")
        forged = traffic.BenchRequest(good.channel, good.path, good.headers,
                                      good.body.replace(b"hi", b"ho", 1))
        status, _ = await _send_raw(client, forged.raw("127.0.0.1"))
        assert status == 403, channel


def test_wrk_files_round_trip_in_order(tmp_path: Path) -> None:
    requests = list(traffic.generate(SECRETS, 7, n_shoppers=5, run_id="f"))
    paths, count = traffic.write_wrk_files(iter(requests), tmp_path / "req", 2, "h")
    assert count == 7
    dealt = [traffic.read_wrk_file(p) for p in paths]
    assert [len(d) for d in dealt] == [4, 3]
    interleaved = [dealt[i % 2][i // 2] for i in range(7)]
    assert interleaved == [r.raw("h") for r in requests]
    ids = {r.body for r in traffic.generate(SECRETS, 200, n_shoppers=20, run_id="u")}
    assert len(ids) == 200  # every request is distinct (unique message ids)


def test_plan_size_exceeds_what_a_run_can_send() -> None:
    assert traffic.plan_size(60) > 60 * 4000


def test_warm_up_does_not_wrap_around(tmp_path: Path) -> None:
    # a warm-up file shorter than what the warm-up sends replays message ids: duplicates
    # still in flight when the measured load starts would be counted in it
    opts = Options(duration_s=1, connections=2, threads=2, warmup_s=1.0, workdir=tmp_path)
    made = make_traffic(opts, PUBLIC_URL, total=10, n_shoppers=5)
    warm = [raw for t in range(2)
            for raw in traffic.read_wrk_file(made.warm_stem.with_name(f"warmup.{t}"))]
    assert len(warm) >= 4500 * opts.warmup_s  # more than the fastest run sends
    assert len(set(warm)) == len(warm)


def test_generated_catalog_loads(tmp_path: Path) -> None:
    from webhooks.plugins import load_shop

    shop = load_shop(write_shop(tmp_path / "shop", 250))
    assert len(shop.catalog.products) == 250
    assert len({name for name, _, _ in product_names(250)}) == 250


def test_profile_summary(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "process 1;thread (0x1);run (aiohttp/web.py:1);handle (/work/main/bot/engine.py:9) 3\n"
        "process 1;thread (0x1);run (aiohttp/web.py:1) 1\n")
    samples, by_self, by_total = profile.summarise(raw)
    assert samples == 4
    assert by_self[0].name == "bot/engine.py:handle" and by_self[0].self_pct == 75.0
    assert by_total[0].name == "bot/engine.py:handle"  # project frames only
    assert by_total[0].total_pct == 75.0
    assert profile.thread_shares(raw)["event loop thread"] == 100.0
    assert profile.by_area(raw)["engine"] == 75.0


async def test_python_generator_counts_errors() -> None:
    async def serve() -> loadgen.LoadResult:
        async def handler(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(status=403 if request.path == "/bad" else 200)

        app = web.Application()
        app.router.add_post("/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        good = b"POST /ok HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
        bad = good.replace(b"/ok", b"/bad")
        try:
            return await asyncio.to_thread(
                loadgen.run_python, f"http://127.0.0.1:{port}", [good, bad],
                connections=2, duration_s=0.3)
        finally:
            await runner.cleanup()

    result = await serve()
    assert result.requests > 0
    assert result.errors["status"] > 0


def _result(label: str, rate: float, errors: int = 0) -> RunResult:
    load = loadgen.LoadResult(generator="wrk", connections=32, duration_s=10.0,
                              requests=int(rate * 10), p50_ms=10.0, p90_ms=20.0, p99_ms=30.0,
                              max_ms=40.0)
    return RunResult(label, load, server_cpu_s=5.0, rss_mb=100.0, peak_rss_mb=100.0,
                     handled=int(rate * 10), server_errors=errors)


def test_stored_data_is_judged_round_by_round() -> None:
    """A slow minute that hits every database in one round moves no ratio; the verdict is
    the median of the per-round ratios, and an error in any round is shown."""
    empty, big = "demo shop, 0 stored conversations", "demo shop, 1,000,000 stored conversations"
    rep = Report(command="python -m bench", database="SQLite", options={"requests": 1})
    rep.growth_runs = [(empty, _result(empty, 2000)), (big, _result(big, 1900))]
    rep.growth_rounds = {
        empty: [(2000.0, 1.0, 0), (1400.0, 1.0, 0), (2100.0, 1.0, 0)],
        big: [(1900.0, 0.95, 0), (1330.0, 0.95, 1), (2058.0, 0.98, 0)],
    }
    text = render(rep)
    assert "| 1 |" in text  # the error in round two is summed into the row
    assert "-5.0%" in text
    assert "within 10 % of the empty database: **met** (worst median change -5.0%)" in text
    rep.growth_rounds[big] = [(1500.0, 0.75, 0), (1330.0, 0.95, 0), (1600.0, 0.76, 0)]
    assert "**not met** (worst median change -24.0%)" in render(rep)


def test_a_later_round_starts_further_into_the_requests() -> None:
    requests = [f"r{i}".encode() for i in range(9)]
    assert rotated(requests, 0.0) == requests
    assert rotated(requests, 1 / 3)[:2] == [b"r3", b"r4"]
    assert sorted(rotated(requests, 2 / 3)) == sorted(requests)  # nothing lost, wraps around
    assert rotated([], 0.5) == []
    lua = (Path(__file__).resolve().parents[2] / "bench" / "wrk.lua").read_text()
    assert "math.floor(total * (tonumber(args[2]) or 0))" in lua  # wrk starts the same way
