"""The ``haat`` command (docs/DESIGN.md §1.1)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.settings import Settings

if TYPE_CHECKING:
    from catalog.models import Shop

log = logging.getLogger("haat")

SERVER_GC_THRESHOLDS = (50_000, 20, 100)  # see cmd_serve


def _settings(args: argparse.Namespace) -> Settings:
    from bot.nlu.registry import BACKENDS

    settings = Settings.from_env()
    if settings.nlu_backend not in BACKENDS:
        raise ValueError(f"HAAT_NLU_BACKEND must be one of {', '.join(BACKENDS)}")
    shop = getattr(args, "shop", None)
    if shop:
        settings = settings.with_(shop_dir=Path(shop))
    return settings


def _logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # aiohttp's access log prints URLs only; no bodies, phones or texts
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per plugin otherwise


# ---- serve ----------------------------------------------------------------------------


def simulator_warning(settings: Settings) -> str | None:
    """What ``haat serve`` warns when the simulator runs beside a real channel."""
    from bot.types import ChannelCapability
    from webhooks.channels.registry import CHANNEL_CLASSES, live_channels

    live = live_channels(settings)
    untrusted = [cls for cls in CHANNEL_CLASSES if cls.enabled(settings)
                 and ChannelCapability.UNTRUSTED_SENDERS in cls.capabilities]
    if not untrusted or not live:
        return None
    owner = (" and HAAT_SIMULATOR_OWNER is set: anyone with its token can run merchant "
             "commands on real orders" if settings.simulator_owner else "")
    return (f"the simulator (HAAT_SIMULATOR_TOKEN) is enabled beside a live channel "
            f"({', '.join(live)}){owner}; it is a test tool: unset it in production")
def simulated_provider_with_live_channel(settings: Settings, shop_dir: Path) -> list[str]:
    """One sentence per shop that takes its money through a test PSP (a provider that
    declares ``simulate``) while a real WhatsApp channel is configured: its shoppers would
    get test links that pay nobody."""
    from payments.providers.registry import PROVIDERS
    from webhooks.channels.registry import live_channels
    from webhooks.plugins import load_shops

    channels = live_channels(settings)
    if not channels:
        return []
    try:
        shops = load_shops(shop_dir)
    except Exception:  # haat check / the server report the shop's own errors
        return []
    return [f"shop {shop.id!r} takes payments with the {provider.name} provider (a test PSP: "
            f"its links pay nobody) while a live channel is configured: {', '.join(channels)}"
            for shop in shops.values()
            if (provider := PROVIDERS.get(shop.payments.provider)) is not None
            and "simulate" in provider.capabilities]


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _logging(settings.log_level)
    from webhooks.plugins import describe_plugins
    from webhooks.redaction import install_redaction, secrets_of

    install_redaction(secrets_of(settings))
    if (warning := simulator_warning(settings)) is not None:
        log.warning("%s", warning)
    workers = args.workers
    if workers < 1:
        print("haat serve: --workers must be 1 or more", file=sys.stderr)
        return 2
    from storage.database import is_sqlite

    if workers > 1 and is_sqlite(settings.database_url):
        print("haat serve: --workers N > 1 needs PostgreSQL (HAAT_DATABASE_URL="
              "postgresql+asyncpg://…): SQLite has one writer, and one process serves it "
              "best (docs/DEPLOY.md)", file=sys.stderr)
        return 2
    if not settings.allow_sandbox_with_live_channel:
        for problem in simulated_provider_with_live_channel(settings, Path(settings.shop_dir)):
            print(f"haat serve: refusing to start: {problem}. Use a real provider in "
                  "shop.yaml, or set HAAT_ALLOW_SANDBOX_WITH_LIVE_CHANNEL=1 for a test "
                  "number.", file=sys.stderr)
            return 2
    from webhooks.migrate import upgrade_in_child

    if not args.reuse_port:  # a worker of `--workers N`: its supervisor migrated already
        try:
            upgrade_in_child(settings.database_url)
        except RuntimeError as exc:
            print(f"haat serve: {exc}; see the error above", file=sys.stderr)
            return 1
    log.info("serving %s on http://%s:%d with %d process%s (%s)", settings.shop_dir, args.host,
             args.port, workers, "es" if workers > 1 else "",
             ", ".join(f"{k}={v}" for k, v in (settings.describe() | {
                 "simulator_token": describe_plugins(settings)["HAAT_SIMULATOR_TOKEN"]}).items()
                       if k in ("database_url", "public_url", "nlu_backend", "simulator_token")))
    # A message allocates thousands of short-lived objects, nearly all freed by reference
    # counting. At the default thresholds (700, 10, 10) the cycle collector runs every few
    # messages and its older generations keep walking every cached conversation: measured
    # in docs/BENCHMARKS.md, these thresholds give 15-30 % more messages per second and a
    # lower p99 at the same memory. Start-up garbage is frozen out of collections as well.
    gc.set_threshold(*SERVER_GC_THRESHOLDS)
    if workers > 1:
        # N full servers sharing the port; nothing is shared between them but PostgreSQL
        from webhooks.workers import run

        return run(Path(settings.shop_dir), args.host, args.port, workers)
    _run_server(settings, args.host, args.port, reuse_port=args.reuse_port)
    return 0


def _run_server(settings: Settings, host: str, port: int, *, reuse_port: bool = False) -> None:
    from aiohttp import web

    from webhooks.app import create_app

    app = create_app(settings, run_migrations=False)
    loop = None
    if settings.event_loop == "uvloop":
        # libuv's loop: the same asyncio API at a fraction of the per-request overhead
        import uvloop

        loop = uvloop.new_event_loop()
    web.run_app(app, host=host, port=port, access_log=None, print=None, loop=loop,
                reuse_port=reuse_port or None)


# ---- check ----------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    from webhooks.plugins import check_shop_with_warnings, load_shops

    path = Path(args.dir or Settings.from_env().shop_dir)
    errors, warnings = check_shop_with_warnings(path)
    for warning in warnings:
        print(warning)
    if not errors:
        for problem in simulated_provider_with_live_channel(Settings.from_env(), path):
            print(f"{path}: warning: {problem}; haat serve refuses this unless "
                  "HAAT_ALLOW_SANDBOX_WITH_LIVE_CHANNEL=1")
    for error in errors:
        print(error)
    if errors:
        return 1
    settings = Settings.from_env()
    failed = False
    from webhooks.channels.whatsapp_cloud import throughput

    try:
        throughput(settings)
    except ValueError as exc:
        print(f"{path}: error: {exc}")
        failed = True
    for shop in load_shops(path).values():
        failed |= _check_shop(path, shop, settings)
    return 1 if failed else 0


def _check_shop(path: Path, shop: Shop, settings: Settings) -> bool:
    """Print one loaded shop's summary, errors and warnings; True when it has errors."""
    from bot.replies import shop_name
    from webhooks.plugins import shop_payment_problems

    problems, notes = shop_payment_problems(shop, settings)
    for problem in problems:
        print(f"{path}: error: {problem}")
    catalog = shop.catalog
    if not problems:
        print(f"ok: {shop.id}: {shop_name(shop, shop.default_language)} — "
              f"{len(catalog.products)} products in {len(catalog.categories)} "
              f"categories, languages {', '.join(shop.languages)}, payments via "
              f"{shop.payments.provider}"
              + (f", transfers to your own {', '.join(shop.payments.transfers)}"
                 if shop.payments.transfers else "")
              + f", marketing opt-in {shop.marketing_opt_in}")
    for note in notes:
        print(f"{path}: warning: {note}")
    if shop.whatsapp.catalog_id is not None:
        from bot.catalog_sync import catalog_items

        for problem in catalog_items(shop)[1]:
            print(f"{path}: warning: not synced to the Meta catalog: {problem}")
    for note in template_notes(shop, settings):
        print(f"{path}: warning: {note}")
    return bool(problems)


def template_notes(shop: Shop, settings: Settings) -> list[str]:
    """Events without an approved template: outside the 24-hour window they are not sent
    (an owner's alert waits for the digest), so a live shop should map every one."""
    from catalog.template_export import missing_templates
    from webhooks.channels.twilio import TwilioAdapter

    notes = []
    missing = missing_templates(shop, content_sids=False)
    if missing:
        notes.append(f"{shop.id}: templates: no Cloud API template for {', '.join(missing)}; "
                     "outside the 24-hour window those messages are not sent (`haat "
                     "templates export`, docs/CHANNELS.md)")
    if TwilioAdapter.live(settings):
        lacking = missing_templates(shop, content_sids=True)
        if lacking:
            notes.append(f"{shop.id}: templates: no Twilio Content SID for "
                         f"{', '.join(lacking)} (`twilio: HX…` per event)")
    return notes


def cmd_templates_export(args: argparse.Namespace) -> int:
    """Write what the merchant submits for approval, and the shop.yaml block to map it."""
    from catalog.nodes import ShopError
    from catalog.template_export import meta_templates, shop_yaml_snippet, twilio_contents
    from webhooks.plugins import load_shops

    path = Path(args.shop or Settings.from_env().shop_dir)
    try:
        shops = load_shops(path)
    except ShopError as exc:
        for error in exc.errors:
            print(error)
        return 1
    out = Path(args.out)
    for shop in shops.values():
        folder = out / shop.id if len(shops) > 1 else out
        folder.mkdir(parents=True, exist_ok=True)
        meta, twilio = meta_templates(shop), twilio_contents(shop)
        (folder / "whatsapp_message_templates.json").write_text(
            json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        (folder / "twilio_content.json").write_text(
            json.dumps(twilio, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        (folder / "shop_templates.yaml").write_text(shop_yaml_snippet(shop), encoding="utf-8")
        print(f"{shop.id}: {len(meta)} Cloud API templates → "
              f"{folder / 'whatsapp_message_templates.json'}; {len(twilio)} Twilio Content "
              f"definitions → {folder / 'twilio_content.json'}; shop.yaml block → "
              f"{folder / 'shop_templates.yaml'}")
    return 0


def cmd_templates_twilio(args: argparse.Namespace) -> int:
    """Print the ``templates:`` block with the SIDs of the account's approved Content."""
    from catalog.nodes import ShopError
    from webhooks.plugins import load_shops
    from webhooks.twilio_content import ContentLookupError, run_cli, yaml_block

    settings = Settings.from_env()
    try:
        shops = load_shops(Path(args.shop or settings.shop_dir))
    except ShopError as exc:
        for error in exc.errors:
            print(error)
        return 1
    complete = True
    for shop in shops.values():
        try:
            found = asyncio.run(run_cli(settings, shop))
        except ContentLookupError as exc:
            print(f"{shop.id}: {exc}", file=sys.stderr)
            return 1
        waiting = [row for row in found if row.sid is None]
        complete &= not waiting
        print(f"# {shop.id}: {len(found) - len(waiting)} of {len(found)} Twilio templates "
              "approved")
        for row in waiting:
            why = f": {row.reason}" if row.reason else ""
            print(f"#   {row.event} ({row.language}) {row.friendly_name}: {row.status}{why}")
        print(yaml_block(shop, found), end="")
    return 0 if complete else 1


# ---- db -------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    from webhooks.migrate import upgrade

    upgrade(settings.database_url)
    print("database is at the latest revision")
    return 0


# ---- catalog sync --------------------------------------------------------------------


def cmd_catalog_sync(args: argparse.Namespace) -> int:
    """Push each shop's YAML catalog to its Meta catalog (webhooks/meta_catalog.py); exits 1
    when Meta refused an item or the sync could not run."""
    from webhooks.meta_catalog import CatalogSyncError, run_cli_sync

    settings = Settings.from_env()
    if args.dir:
        settings = settings.with_(shop_dir=Path(args.dir))
    try:
        reports = asyncio.run(run_cli_sync(settings, args.only))
    except CatalogSyncError as exc:
        print(f"error: {exc}")
        return 1
    if not reports:
        print("no shop has whatsapp_commerce.catalog_id: nothing to sync")
    for report in reports:
        print("\n".join(report.lines()))
    return 1 if any(r.errors for r in reports) else 0


# ---- reconcile ----------------------------------------------------------------------


async def _reconcile(settings: Settings, shop: str | None = None
                     ) -> tuple[dict[str, object], list[str]]:
    from aiohttp import web

    from payments.audit import audit
    from webhooks.app import create_app
    from webhooks.keys import CLOCK, PAYMENT_RECORDS, PAYMENTS, SCHEDULER

    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()  # starts the resources, not a listening socket
    try:
        report: dict[str, object] = dict(await app[SCHEDULER].reconcile())
        report["ledger_balanced"] = await app[PAYMENTS].ledger_balanced(shop)
        anomalies = await audit(app[PAYMENT_RECORDS], shop_id=shop,
                                now_ms=app[CLOCK].now_ms())
        report["anomalies"] = len(anomalies)
        return report, [str(a) for a in anomalies]
    finally:
        await runner.cleanup()


def cmd_reconcile(args: argparse.Namespace) -> int:
    """Re-fetch payments from their providers and apply what was missed; then check, per
    order and per account, that the books mean what they should (payments/audit.py).
    Prints every anomaly with its order id; exits 1 when there is any."""
    settings = _settings(args)
    _logging("WARNING")
    report, anomalies = asyncio.run(_reconcile(settings, getattr(args, "shop", None)))
    for line in anomalies:
        print(f"ANOMALY {line}")
    print(" ".join(f"{key}={value}" for key, value in report.items()))
    return 0 if report["ledger_balanced"] and not anomalies else 1


# ---- chat -----------------------------------------------------------------------------


def _print_reply(reply: dict[str, Any]) -> None:
    if reply.get("header"):
        print(f"  {reply['header']}")
    for line in str(reply.get("text", "")).splitlines():
        print(f"  {line}")
    for number, option in enumerate(reply.get("buttons") or reply.get("rows") or [], 1):
        extra = f" — {option['description']}" if option.get("description") else ""
        print(f"   {number}. {option['title']}{extra}")
    if reply.get("image_url"):
        print(f"  [image] {reply['image_url']}")
    if reply.get("link"):
        print(f"  [link] {reply['link']}")


async def _chat(settings: Settings, phone: str, language: str | None) -> int:
    import aiohttp
    from aiohttp import web

    from webhooks.app import create_app

    token = secrets.token_urlsafe(16)
    settings = settings.with_env(HAAT_SIMULATOR_TOKEN=token)
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    print(f"haat chat — talking to {settings.shop_dir} as {phone}. Ctrl-D to quit.")
    loop = asyncio.get_running_loop()
    try:
        async with aiohttp.ClientSession(headers=headers) as session:
            if language:
                # the shopper's own words for "switch language", as they would type them
                switch = {"en": "English", "hi": "हिंदी", "bn": "বাংলা",
                          "ar": "العربية"}.get(language, language)
                async with session.post(f"{base}/webhooks/simulator",
                                        json={"from": phone, "text": switch}) as response:
                    for reply in (await response.json()).get("replies", []):
                        _print_reply(reply)
            while True:
                try:
                    line = await loop.run_in_executor(None, input, "you> ")
                except EOFError:
                    print()
                    return 0
                if not line.strip():
                    continue
                async with session.post(f"{base}/webhooks/simulator",
                                        json={"from": phone, "text": line}) as response:
                    data = await response.json()
                if response.status != 200:
                    print(f"  ! {data.get('error')}")
                    continue
                for reply in data["replies"]:
                    _print_reply(reply)
                async with session.get(f"{base}/webhooks/simulator/outbox",
                                       params={"to": phone}) as response:
                    for message in (await response.json())["messages"]:
                        _print_reply(message)
    finally:
        await runner.cleanup()


def cmd_chat(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _logging("WARNING")
    return asyncio.run(_chat(settings, args.as_phone, args.lang))


# ---- conversation tests -------------------------------------------------------------


def cmd_test(args: argparse.Namespace) -> int:
    from webhooks.conversation_tests import run_files

    settings = _settings(args)
    _logging("WARNING")
    passed, failed, report = asyncio.run(run_files([Path(f) for f in args.files], settings,
                                                   verbose=args.verbose))
    if report:
        print(report)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


# ---- broadcast ------------------------------------------------------------------------


def cmd_broadcast(args: argparse.Namespace) -> int:
    """Send an approved marketing template to opted-in shoppers, or report one."""
    from webhooks.broadcast_cli import BroadcastCommandError, format_report, run

    settings = _settings(args)
    _logging("WARNING")
    action = args.broadcast_command
    body = {}
    if action == "send":
        body = {"template": args.template, "segment": args.segment,
                "language": args.language, "params": args.param or []}
    try:
        reports = run(settings, action, body=body, broadcast_id=getattr(args, "id", None),
                      shop_id=args.shop_id, server=args.server)
    except BroadcastCommandError as exc:
        print(f"haat broadcast: {exc}", file=sys.stderr)
        return 2
    for report in reports:
        print(format_report(report))
    return 0


# ---- nlu ------------------------------------------------------------------------------


def cmd_nlu_eval(args: argparse.Namespace) -> int:
    from webhooks.nlu_commands import nlu_eval

    settings = _settings(args)
    if args.backend:
        settings = settings.with_(nlu_backend=args.backend)
    _logging("WARNING")
    shops = Path(args.shops) if args.shops else None
    report = asyncio.run(nlu_eval(settings, Path(args.file), shops, args.mistakes,
                                  args.rasa_entities))
    print(report)
    return 0


def cmd_rasa_export(args: argparse.Namespace) -> int:
    from webhooks.nlu_commands import rasa_export

    settings = _settings(args)
    out = rasa_export(settings, Path(args.dir))
    print(f"wrote a Rasa 3.x project to {out}")
    return 0


# ---- fuzz -----------------------------------------------------------------------------


def cmd_fuzz(args: argparse.Namespace) -> int:
    """Hostile requests, validly signed, against a real ``haat serve`` (webhooks/fuzz.py)."""
    import json

    from webhooks.fuzz import DEFAULT_CORPUS, fuzz

    _logging("WARNING")
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    corpus = None if args.no_corpus else Path(args.corpus or DEFAULT_CORPUS)
    report = asyncio.run(fuzz(count=args.count, seed=seed, concurrency=args.concurrency,
                              slow=args.slow, corpus=corpus,
                              shop=Path(args.shop) if args.shop else None,
                              verbose=not args.json, database_url=args.database_url,
                              workers=args.workers))
    print(json.dumps(report.as_json() | {"seed": seed}) if args.json else report.text())
    # slow is the server's own time (webhooks/timing.py), not a starved machine's
    bad = report.server_errors or report.slow_server or report.transport_errors
    return 1 if bad or report.routes_not_fuzzed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="haat", description="chat-commerce bot for WhatsApp")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the webhook server")
    serve.add_argument("--shop", help="shop folder (or a folder of shop folders)")
    serve.add_argument("--host", default=os.environ.get("HAAT_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("HAAT_PORT", "8080")))
    serve.add_argument("--workers", type=int, default=os.environ.get("HAAT_WORKERS", "1"),
                       help="server processes sharing the port (SO_REUSEPORT); N > 1 needs "
                            "PostgreSQL")
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(func=cmd_serve)

    check = sub.add_parser("check", help="validate a shop folder")
    check.add_argument("dir", nargs="?")
    check.set_defaults(func=cmd_check)

    chat = sub.add_parser("chat", help="talk to the bot in the terminal")
    chat.add_argument("--shop")
    chat.add_argument("--as", dest="as_phone", default="+919000000001")
    chat.add_argument("--lang")
    chat.set_defaults(func=cmd_chat)

    test = sub.add_parser("test", help="run conversation tests")
    test.add_argument("files", nargs="+")
    test.add_argument("--shop")
    test.add_argument("-v", "--verbose", action="store_true")
    test.set_defaults(func=cmd_test)

    nlu = sub.add_parser("nlu", help="intent engine tools")
    nlu_sub = nlu.add_subparsers(dest="nlu_command", required=True)
    evaluate = nlu_sub.add_parser(
        "eval", help="accuracy and macro-F1 on a labelled file; on a corpus folder also "
                     "product precision/recall, quantity accuracy and cart exact-match")
    evaluate.add_argument("file", help="a Rasa NLU file, or a corpus split folder "
                                       "(<split>/<shop>/<form>.yml, e.g. "
                                       "tests/nlu/extraction/corpus/test)")
    evaluate.add_argument("--shops", help="shop folders of a corpus (default: ../../shops "
                                          "from the split folder)")
    evaluate.add_argument("--mistakes", type=int, default=30,
                          help="how many wrong carts to list")
    evaluate.add_argument("--rasa-entities", action="store_true",
                          help="with --backend rasa: cart items from DIET's entities, not "
                               "haat's extractor (to compare the two)")
    evaluate.add_argument("--shop")
    evaluate.add_argument("--backend", choices=["builtin", "rasa"])
    evaluate.set_defaults(func=cmd_nlu_eval)

    rasa = sub.add_parser("rasa", help="Rasa interoperability")
    rasa_sub = rasa.add_subparsers(dest="rasa_command", required=True)
    export = rasa_sub.add_parser("export", help="write a Rasa 3.x project")
    export.add_argument("dir")
    export.add_argument("--shop")
    export.set_defaults(func=cmd_rasa_export)

    catalog = sub.add_parser("catalog", help="the shop's Meta (WhatsApp) catalog")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True)
    sync = catalog_sub.add_parser("sync", help="push the YAML catalog to Meta's catalog "
                                               "(whatsapp_commerce.catalog_id)")
    sync.add_argument("dir", nargs="?", help="shop folder (default HAAT_SHOP_DIR)")
    sync.add_argument("--only", help="sync only this shop id")
    sync.set_defaults(func=cmd_catalog_sync)

    reconcile = sub.add_parser("reconcile", help="re-fetch open payments and check the ledger")
    reconcile.add_argument("--shop")
    reconcile.set_defaults(func=cmd_reconcile)

    fuzz = sub.add_parser("fuzz", help="hostile, validly signed requests on every route of a "
                                       "real haat serve; counts by status code")
    fuzz.add_argument("--count", type=int, default=100_000)
    fuzz.add_argument("--seed", type=int, help="the same seed sends the same cases")
    fuzz.add_argument("--concurrency", type=int, default=8)
    fuzz.add_argument("--slow", type=float, default=2.0,
                      help="seconds: an answer that took the server longer (its own time, "
                           "not the machine's: webhooks/timing.py) is a finding")
    fuzz.add_argument("--corpus", help="where findings are kept (default tests/fuzz_corpus)")
    fuzz.add_argument("--no-corpus", action="store_true", help="keep nothing")
    fuzz.add_argument("--shop", help="shop folder for the server (default the demo shop)")
    fuzz.add_argument("--json", action="store_true", help="one JSON line instead of a table")
    fuzz.add_argument("--workers", type=int, default=1, help="haat serve --workers")
    fuzz.add_argument("--database-url", help="the server's database (default: a new SQLite "
                                             "file; an empty PostgreSQL one works too)")
    fuzz.set_defaults(func=cmd_fuzz)

    templates = sub.add_parser("templates", help="WhatsApp message templates")
    templates_sub = templates.add_subparsers(dest="templates_command", required=True)
    tpl_export = templates_sub.add_parser(
        "export", help="write the Cloud API and Twilio template definitions to submit")
    tpl_export.add_argument("--shop", default=None, help="shop folder (default config/)")
    tpl_export.add_argument("--out", default="templates-export", help="output folder")
    tpl_export.set_defaults(func=cmd_templates_export)
    tpl_twilio = templates_sub.add_parser(
        "twilio", help="print the templates: block with the Content SIDs Twilio approved "
                       "(found by the names `templates export` gave them)")
    tpl_twilio.add_argument("--shop", default=None, help="shop folder (default config/)")
    tpl_twilio.set_defaults(func=cmd_templates_twilio)
    broadcast = sub.add_parser("broadcast", help="send an approved marketing template to "
                                                 "opted-in shoppers; report its counts")
    broadcast_sub = broadcast.add_subparsers(dest="broadcast_command", required=True)
    send = broadcast_sub.add_parser("send", help="fix the audience and send")
    send.add_argument("--template", required=True, help="the approved template's name")
    send.add_argument("--segment", default="all",
                      help="all, recent:N (ordered in the last N days) or product:SKU")
    send.add_argument("--language", help="the template's language code (en, hi, bn, ar), or "
                                         "'shopper' for each shopper's own; default: the "
                                         "shop's first language")
    send.add_argument("--param", action="append", help="a body parameter, in order")
    for name, text in (("resume", "finish a broadcast a stopped process left unfinished"),
                       ("status", "sent, delivered, read and failed counts")):
        one = broadcast_sub.add_parser(name, help=text)
        one.add_argument("id")
    broadcast_sub.add_parser("list", help="the shop's latest broadcasts")
    for each in broadcast_sub.choices.values():
        each.add_argument("--shop", help="shop folder (or a folder of shop folders)")
        each.add_argument("--shop-id", help="which shop, when the folder holds several")
        each.add_argument("--server", help="a running haat serve's URL: it sends (needs "
                                           "HAAT_ADMIN_TOKEN)")
    broadcast.set_defaults(func=cmd_broadcast)

    db = sub.add_parser("db", help="database tools")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations to HAAT_DATABASE_URL")
    up.set_defaults(func=cmd_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["main"]
