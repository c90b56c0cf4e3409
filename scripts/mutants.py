"""Mutation testing of the trust paths with mutmut 3 (docs/TESTING.md, "Mutation").

Each module runs in its own scratch copy of the repository (.mutants/<module>/), with a
[tool.mutmut] section written for it: only that module is mutated, and the stats run (which
records which test calls which function) runs only the in-process tests listed for it below,
so each mutant then runs only the tests that cover it. A scratch copy keeps its results:
running again resumes and re-checks only what changed.

    python scripts/mutants.py run [MODULE ...]     # mutate, test, then report
    python scripts/mutants.py retest [MODULE ...]  # only the survivors again, after new tests
    python scripts/mutants.py report [MODULE ...]  # score per module and the survivors
    python scripts/mutants.py show [MODULE ...]    # each survivor's diff
    python scripts/mutants.py table [MODULE ...]   # the scores for docs/TESTING.md

``--only GLOB`` (repeatable, with run, retest, report and show) limits the command to the
mutants whose names match, e.g. ``run webhooks/outbox.py --only
"webhooks.outbox.x__failed__mutmut_*"``: a targeted run of the functions being worked on
(mutmut still makes every mutant and records stats for the whole selection). Its report
counts only those mutants, per function: a targeted number, not the module's score.
``--tests ARG`` (repeatable, with run) replaces the module's test selection for that run
(a shorter stats run; a mutant killed by fewer tests is killed by all of them, so such a
run's kills are a lower bound). It changes mutmut's fingerprint: the next full run starts
afresh.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutants"  # a dot-directory: the doc-reference walk and ruff skip it

# module -> the in-process tests that exercise it (no subprocess servers, no real Rasa: those
# cannot feed mutmut's coverage and need the real .venv). Order: cheapest first.
MODULES: dict[str, list[str]] = {
    "catalog/money.py": [
        "tests/unit/test_money.py",
        "tests/unit/test_assets_and_amounts.py",
        "tests/unit/test_cart.py",
        "tests/unit/test_upi.py",
    ],
    "payments/upi.py": [
        "tests/unit/test_upi.py",
        "tests/unit/test_qr.py",
    ],
    "payments/status.py": [
        "tests/unit/test_payment_status.py",
        "tests/unit/test_cod_rules.py",  # the cash-on-delivery edges
        "tests/unit/test_ledger.py",
        "tests/contract/test_order_money.py",
    ],
    "security/signatures.py": [
        "tests/contract/test_signatures.py",
        "tests/contract/test_providers.py",
    ],
    "payments/ledger.py": [
        "tests/unit/test_ledger.py",
        "tests/unit/test_cod_rules.py",  # cash in hand, returns
        "tests/contract/test_ledger_accounts.py",
        "tests/unit/test_payment_status.py",
        "tests/contract/test_order_money.py",
        "tests/contract/test_partial_and_manual_refunds.py",
    ],
    "payments/book.py": [
        "tests/unit/test_ledger.py",
        "tests/unit/test_order_book.py",
        "tests/unit/test_cod_rules.py",
        "tests/contract/test_order_money.py",
        "tests/contract/test_partial_and_manual_refunds.py",
        "tests/contract/test_ledger_accounts.py",
    ],
    "catalog/cart.py": [
        "tests/unit/test_cart.py",
        "tests/unit/test_order_rules.py",
    ],
    "webhooks/outbox.py": [  # the in-process half of the reliability tests, the resends
        "tests/e2e/test_reliability.py", "tests/e2e/test_server_side_prices.py",
        "tests/e2e/test_templates_and_failures.py", "tests/e2e/test_order_cards.py",
        "tests/e2e/test_faults.py::test_a_failed_mark_sent_never_sends_a_reply_again",
        "tests/e2e/test_faults.py::test_a_status_for_a_send_not_yet_recorded_records_both",
        "tests/contract/test_outbox_recovery.py",  # claims, shutdown, recovery; both backends
        "tests/contract/test_outbox_refusals.py",  # each refusal's row, counters, log lines
        "-k", "not crash and not sigkill and not sigstop",
    ],
    "webhooks/channels/whatsapp_inbound.py": [
        "tests/contract/test_channels_parse.py",
        "tests/contract/test_whatsapp_envelopes.py",
        "tests/unit/test_wire_forms.py",
    ],
    "webhooks/channels/twilio.py": [  # parsing, signatures, TwiML, and the REST sender
        "tests/contract/test_channels_parse.py",  # against tests/fakes/twilio_api.py
        "tests/contract/test_signatures.py",
        "tests/contract/test_twilio_channel.py",
        "tests/unit/test_channel_send.py",
        "tests/unit/test_channel_render.py",
    ],
    "payments/service.py": [
        "tests/contract/test_order_money.py",
        "tests/contract/test_partial_and_manual_refunds.py",
        "tests/contract/test_payment_service_properties.py",
        "tests/contract/test_provider_event_dedupe.py",
        "tests/contract/test_ledger_accounts.py",
        "tests/contract/test_providers.py",
        "tests/contract/test_stripe.py",
        # cash on delivery, transfer claims and their confirmations, _reject (one test,
        # 50 derandomized programs): without it those functions had no tests
        "tests/contract/test_cod_transfer_money_properties.py",
        "tests/contract/test_order_money_properties.py",  # poll_refunds, expire_due
        # reconcile (real Razorpay provider over its fake), poll_refunds, expire_due,
        # cancel_unpaid, transfer claims, record_manual_refund: what each books, by account
        "tests/contract/test_service_sweeps.py",
        # what apply_event hands to notify, its per-order guard, retries and orphans
        "tests/contract/test_payment_update.py",
        "-k", "not postgresql",  # the SQLite half: the same service code, no cluster setup
    ],
    # the turn, dedupe in memory and below it, owners, consent. Left out (-k): the whole
    # conversation corpus (one test, about 4 min under mutmut's trampoline at load 11) and
    # the button explorations (about 1 min per language and shop, 16 of them): every
    # surviving engine mutant would pay all of them, hours for 582 mutants; and the
    # PostgreSQL half (a throwaway cluster per forked mutant). tests/e2e/test_engine_turn.py
    # checks from outside what those covered and the first full run showed unchecked.
    "bot/engine.py": [
        "tests/unit/test_router.py",
        "tests/unit/test_recent_ids.py",
        "tests/e2e/test_dedupe_below_memory.py",
        "tests/e2e/test_two_apps.py",
        "tests/e2e/test_conversations.py",
        "tests/e2e/test_button_taps.py",
        "tests/e2e/test_simulator.py",  # redeliveries, the away notice, a restart
        "tests/e2e/test_simulator_owner.py::"
        "test_an_owner_number_on_the_simulator_has_no_merchant_powers_by_default",
        "tests/e2e/test_marketing_consent.py::test_stop_in_every_language_opts_out_and_is_confirmed_in_it",
        "tests/e2e/test_marketing_consent.py::"
        "test_start_opts_back_in_and_is_confirmed_in_the_shoppers_language",
        "tests/e2e/test_templates_and_failures.py::"
        "test_alerts_that_cannot_reach_the_owner_come_as_a_digest_when_they_write",
        "tests/e2e/test_templates_and_failures.py::"
        "test_an_alert_held_on_one_channel_reaches_the_owner_once_on_another",
        "tests/e2e/test_engine_turn.py",
        "-k", "not postgresql and not every_conversation_passes and not every_button_reaches"
        " and not every_cod_transfer",
    ],
    "storage/database.py": [
        "tests/unit/test_database.py",
        "tests/unit/test_database_reads.py",
        "tests/unit/test_storage_faults.py",
        "tests/contract/test_state_stores.py",
    ],
}

# Functions that run only while their module is imported (tables built once): mutmut picks
# the mutant per test call, after import, so their mutants can never be active and are left
# out of the score (docs/TESTING.md says which tests pin those tables instead).
IMPORT_TIME: dict[str, set[str]] = {
    "payments/status.py": {"_allow", "_build_payment_table", "_reachability"},
}

SOURCE_PATHS = ["bot", "catalog", "config", "payments", "security", "storage", "webhooks"]
ALSO_COPY = ["examples", "docs", "README.md"]
IGNORE = shutil.ignore_patterns(
    ".venv", ".rasa-venv", ".rasa-models", ".git", ".mutants", "build", "mutants",
    "__pycache__",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", "*.egg-info", "*.db", "*.db-*",
)
# A mutant that kills a test mid-way can leave an aiohttp session unclosed; the suite turns that
# ResourceWarning into an error (filterwarnings = ["error"]) and mutmut's forced-fail check
# then stops. Ignored for the mutation run only (webhooks/outbox.py's selection hit it).
PYTEST_ARGS = ["-p", "no:cacheprovider", "-q",
               "-W", "ignore::pytest.PytestUnraisableExceptionWarning"]
KILLED = {1, 3, 36, 37, 24, -24, 152, 255}  # test failure, pytest error, timeout, type check
# A mutant times out after (its tests' clean duration + TIMEOUT_CONSTANT s) x the module's
# multiplier, in wall time (mutmut's defaults: 1 s and 15). mutmut's clean duration is the
# tests' call phase only: their fixtures (a migrated database per test, a server) and
# pytest's collection are not in it, so the constant covers those and the multiplier a
# machine about twice as busy as during the stats run; a mutant that hangs (a retry that
# never ends, hypothesis shrinking a failure) costs that much, not 15x. Modules whose tests
# spend more in fixtures than in their calls (PostgreSQL databases, servers) get 10x.
TIMEOUT_CONSTANT = 5.0
TIMEOUT_MULTIPLIER = 4.0
SLOW_FIXTURES = {"storage/database.py": 10.0, "bot/engine.py": 10.0, "webhooks/outbox.py": 10.0}
# Before that timeout, one test that takes longer than this (setup, call and teardown) ends
# its mutant's process with exit status 1, a kill (tests/conftest.py, HAAT_TEST_HANG_SECONDS):
# a hanging mutant then costs about a minute, not its module's timeout (up to 340 s for
# webhooks/outbox.py). The longest clean test takes 10 s (the parsing fuzz of
# whatsapp_inbound.py), the others under 8 s: the limit is six times that, for a busy machine.
HANG_SECONDS = 60.0
SLOW_TESTS = {"webhooks/channels/whatsapp_inbound.py": 120.0}


def _slug(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def _prepare(module: str) -> Path:
    """A fresh copy of the code and tests, keeping mutmut's results of an earlier run."""
    work = WORK / _slug(module)
    work.mkdir(parents=True, exist_ok=True)
    for name in os.listdir(ROOT):
        if name in {".git", ".venv", ".rasa-venv", ".rasa-models", ".mutants", "build",
                    "mutants"}:
            continue
        src, dst = ROOT / name, work / name
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        elif dst.exists():
            dst.unlink()
        if src.is_dir():
            shutil.copytree(src, dst, ignore=IGNORE)
        else:
            shutil.copy2(src, dst)
    for venv in (".venv", ".rasa-venv"):
        link = work / venv
        if not link.exists() and (ROOT / venv).exists():
            link.symlink_to(ROOT / venv)
    pyproject = (work / "pyproject.toml").read_text()
    pyproject += (
        "\n[tool.mutmut]\n"
        f"source_paths = {_toml_list(SOURCE_PATHS)}\n"
        f"only_mutate = {_toml_list([module])}\n"
        f"also_copy = {_toml_list(ALSO_COPY)}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(TESTS or MODULES[module])}\n"
        f"pytest_add_cli_args = {_toml_list(PYTEST_ARGS)}\n"
        f"timeout_multiplier = {SLOW_FIXTURES.get(module, TIMEOUT_MULTIPLIER)}\n"
        f"timeout_constant = {TIMEOUT_CONSTANT}\n"
    )
    (work / "pyproject.toml").write_text(pyproject)
    return work


ONLY: list[str] = []  # --only GLOB: mutant names the command is limited to
TESTS: list[str] = []  # --tests ARG: this run's test selection instead of MODULES'


def _results(module: str) -> dict[str, int | None]:
    meta = WORK / _slug(module) / "mutants" / (module + ".meta")
    if not meta.exists():
        return {}
    data: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    if ONLY:
        data = {name: code for name, code in data.items()
                if any(fnmatch.fnmatchcase(name, glob) for glob in ONLY)}
    return data


def _function(mutant: str) -> str:
    """``payments.status.x__allow__mutmut_3`` -> ``_allow`` (methods: ``Class.method``)."""
    name = mutant.rsplit("__mutmut_", 1)[0].rsplit(".", 1)[-1]
    if name.startswith("xǁ"):
        return name.removeprefix("xǁ").replace("ǁ", ".")
    return name.removeprefix("x_")


def report(modules: list[str]) -> int:
    """Score per module (killed / all mutants; "no tests" count as survivors) and survivors."""
    print(f"{'module':44} {'mutants':>7} {'killed':>6} {'survived':>8} {'score':>6}")
    below = 0
    survivors: list[str] = []
    for module in modules:
        results = _results(module)
        if not results:
            print(f"{module:44} {'not run':>7}")
            below += 1
            continue
        skip = {name for name in results if _function(name) in IMPORT_TIME.get(module, set())}
        results = {name: code for name, code in results.items() if name not in skip}
        killed = sum(1 for code in results.values() if code in KILLED)
        lost = [name for name, code in results.items() if code not in KILLED]
        score = 100.0 * killed / max(len(results), 1)
        below += score < 90.0
        note = f"  (+{len(skip)} import-time, not scored)" if skip else ""
        print(f"{module:44} {len(results):7} {killed:6} {len(lost):8} {score:5.1f}%{note}")
        survivors += [f"{name}  (exit {results[name]})" for name in sorted(lost)]
        if ONLY:
            _per_function(results)
    if survivors:
        print("\nsurvivors (see one: cd .mutants/<module> && mutmut show NAME):")
        print("\n".join("  " + s for s in survivors))
    return 1 if below else 0


def _per_function(results: dict[str, int | None]) -> None:
    """A targeted run's counts: killed / mutants of each function (--only)."""
    functions: dict[str, list[int]] = {}
    for name, code in results.items():
        counts = functions.setdefault(_function(name), [0, 0])
        counts[0] += code in KILLED
        counts[1] += 1
    for function, (killed, total) in sorted(functions.items()):
        print(f"  {function:42} {killed:4} / {total:<4} killed")


def table(modules: list[str]) -> int:
    """The scores as a Markdown table for docs/TESTING.md, with today's date and commit."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
                            cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    today = datetime.now(UTC).date().isoformat()
    print("| module | mutants | killed | survived | score | import-time (not scored) "
          "| date | commit |\n|---|---|---|---|---|---|---|---|")
    for module in modules:
        results = _results(module)
        if not results:
            print(f"| `{module}` | not run | | | | | | |")
            continue
        skip = {n for n in results if _function(n) in IMPORT_TIME.get(module, set())}
        scored = {n: c for n, c in results.items() if n not in skip}
        killed = sum(1 for c in scored.values() if c in KILLED)
        score = 100.0 * killed / max(len(scored), 1)
        print(f"| `{module}` | {len(scored)} | {killed} | {len(scored) - killed} "
              f"| {score:.1f} % | {len(skip)} | {today} | {commit} |")
    return 0


def show(modules: list[str]) -> int:
    """Each survivor's diff (mutmut show), to kill it with a test or call it equivalent."""
    mutmut = ROOT / ".venv" / "bin" / "mutmut"
    for module in modules:
        for name, code in sorted(_results(module).items()):
            if code not in KILLED:
                diff = subprocess.run(  # noqa: S603 - our own venv's mutmut
                    [str(mutmut), "show", name], cwd=WORK / _slug(module),
                    capture_output=True, text=True, check=False).stdout
                lines = [ln for ln in diff.splitlines()
                         if ln[:1] in "+-" and ln[:3] not in {"+++", "---"}]
                print(f"## {name}\n" + "\n".join(lines))
    return 0


def retest(modules: list[str]) -> int:
    """Only the last run's survivors again (after new tests), then the report."""
    return run(modules, survivors_only=True)


def run(modules: list[str], *, survivors_only: bool = False) -> int:
    """Mutate and test each module in its own scratch copy, niced."""
    mutmut = ROOT / ".venv" / "bin" / "mutmut"
    children = os.environ.get("MUTANTS_JOBS", "4")
    os.nice(19)  # a shared machine: the children inherit it
    with contextlib.ExitStack() as stack:
        if "HAAT_TEST_POSTGRES_URL" not in os.environ:
            # one throwaway server for the whole run: each mutant's tests then create their
            # databases on it (tests/conftest.py, fresh_postgres) instead of each forked
            # mutant starting a cluster of its own
            sys.path.insert(0, str(ROOT))
            from tests.localhost import throwaway_cluster

            os.environ["HAAT_TEST_POSTGRES_URL"] = stack.enter_context(throwaway_cluster(
                "fsync=off", "synchronous_commit=off", "max_connections=300",
                prefix="haat-mutants-pg-"))
        return _run(modules, mutmut, children, survivors_only=survivors_only)


# Wall minutes of each module in the full run of 2026-12-04/05 (two lanes, 4 children each,
# load 5 to 13; docs/TESTING.md, "Scores"): what _lanes balances. Not listed: one minute.
MINUTES: dict[str, float] = {
    "storage/database.py": 112, "webhooks/outbox.py": 61, "payments/service.py": 53,
    "bot/engine.py": 30, "webhooks/channels/whatsapp_inbound.py": 7,
    "payments/book.py": 3, "webhooks/channels/twilio.py": 2,
}


def _lanes(modules: list[str], lanes: int) -> list[list[str]]:
    """Modules split into ``lanes`` lists of about equal minutes, each run in turn.

    The slow modules spend their last minutes waiting for mutants that hang until their
    timeout, using no CPU: a second lane runs another module in that time."""
    out: list[list[str]] = [[] for _ in range(max(1, min(lanes, len(modules))))]
    load = [0.0] * len(out)
    for module in sorted(modules, key=lambda m: -MINUTES.get(m, 1.0)):
        lane = load.index(min(load))
        out[lane].append(module)
        load[lane] += MINUTES.get(module, 1.0)
    return out


def _run(modules: list[str], mutmut: Path, children: str, *, survivors_only: bool) -> int:
    lanes = _lanes(modules, int(os.environ.get("MUTANTS_LANES", "2")))
    started = time.monotonic()
    def run_lane(lane: list[str]) -> None:
        for module in lane:
            _run_one(module, mutmut, children, survivors_only=survivors_only)

    with ThreadPoolExecutor(len(lanes)) as pool:
        list(pool.map(run_lane, lanes))
    print(f"== all: {time.monotonic() - started:.0f} s wall, {len(lanes)} lanes", flush=True)
    return report(modules)


def _run_one(module: str, mutmut: Path, children: str, *, survivors_only: bool) -> None:
    names = [n for n, c in _results(module).items() if c not in KILLED]
    if survivors_only and not names:
        return
    work = _prepare(module)
    print(f"== {module} in {work.relative_to(ROOT)}", flush=True)
    chosen = names if survivors_only else ONLY  # mutmut takes names and globs
    started = time.monotonic()
    hang = SLOW_TESTS.get(module, HANG_SECONDS)
    subprocess.run(  # noqa: S603 - our own venv's mutmut, fixed arguments
        [str(mutmut), "run", "--max-children", children, *chosen],
        cwd=work, check=False, env={**os.environ, "HAAT_TEST_HANG_SECONDS": f"{hang:g}"},
    )
    print(f"== {module}: {time.monotonic() - started:.0f} s wall", flush=True)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "run"
    rest = argv[1:]
    for flag, values in (("--only", ONLY), ("--tests", TESTS)):
        while flag in rest:
            at = rest.index(flag)
            if at + 1 >= len(rest):
                print(f"{flag} needs a value")
                return 2
            values.append(rest.pop(at + 1))
            rest.pop(at)
    modules = [m for arg in rest for m in arg.split()] or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown or command not in {"run", "retest", "report", "show", "table"}:
        print("usage: mutants.py run|retest|report|show|table [MODULE ...] [--only GLOB] "
              "[--tests ARG]; "
              "modules: "
              + ", ".join(MODULES))
        return 2
    return {"run": run, "retest": retest, "report": report, "show": show,
            "table": table}[command](modules)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
