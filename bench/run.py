"""One measured run: start the server(s), warm up, drive load, read /proc and /metrics."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import loadgen, servers, traffic
from bench.loadgen import LoadResult


@dataclass
class Options:
    duration_s: float = 60.0
    connections: int = 32
    threads: int = 2
    warmup_s: float = 3.0
    generator: str = "wrk"  # wrk | python
    wrk: str | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="haat-bench-")))


@dataclass
class Traffic:
    """Request files for a run: the measured stream and a separate warm-up stream."""

    secrets: traffic.Secrets
    stem: Path
    loaded: int
    warm_stem: Path


@dataclass
class RunResult:
    label: str
    load: LoadResult
    server_cpu_s: float
    rss_mb: float
    peak_rss_mb: float
    ready_s: float = 0.0
    handled: int = 0  # messages haat counted as handled (metrics delta); bare: requests
    duplicates: int = 0
    server_errors: int = 0  # haat_errors_total delta + tracebacks/ERROR lines in its log
    outbox_sent: int = 0
    outbox_pending_after_s: float = 0.0
    helper_cpu_s: float = 0.0  # the fake Graph API's CPU (Cloud replies go there)
    children_rss_mb: float = 0.0  # the server's child processes (the outbox sender), in rss_mb
    notes: list[str] = field(default_factory=list)
    # /metrics deltas over the window: commits, write_sets, round_trips (PostgreSQL's)
    db: dict[str, float] = field(default_factory=dict)
    db_cpu_s: float = 0.0  # the PostgreSQL server's CPU (its backends) over the window
    box_cpu_s: float = 0.0  # every process on the box over the window (all cores)

    @property
    def throughput(self) -> float:
        return self.handled / self.load.duration_s if self.load.duration_s else 0.0

    @property
    def cpu_per_msg_us(self) -> float:
        return self.server_cpu_s / self.handled * 1e6 if self.handled else 0.0

    def per_msg_us(self, cpu_s: float) -> float:
        return cpu_s / self.handled * 1e6 if self.handled else 0.0

    @property
    def others_cpu_s(self) -> float:
        """What the rest of the box (other engineers' runs) used over the window."""
        return max(0.0, self.box_cpu_s - self.server_cpu_s - self.db_cpu_s
                   - self.load.generator_cpu_s - self.helper_cpu_s)

    @property
    def errors(self) -> int:
        return self.load.error_count + self.server_errors

    def to_json(self) -> dict[str, object]:
        return asdict(self) | {"throughput": round(self.throughput, 1),
                               "cpu_per_msg_us": round(self.cpu_per_msg_us, 1),
                               "errors": self.errors, "load": self.load.to_json()}


def make_traffic(opts: Options, public_url: str, total: int, n_shoppers: int) -> Traffic:
    secrets = traffic.Secrets(public_url=public_url)
    stem = opts.workdir / "requests"
    _, loaded = traffic.write_wrk_files(
        traffic.generate(secrets, total, n_shoppers=n_shoppers, run_id="b", prefix="7"),
        stem, opts.threads, "127.0.0.1")
    warm = opts.workdir / "warmup"
    # as many distinct warm-up requests as the fastest run sends: a file that wraps around
    # replays duplicates, and those still in flight when the measured load starts would be
    # counted (and would warm the dedupe path instead of the engine)
    traffic.write_wrk_files(
        traffic.generate(secrets, traffic.plan_size(opts.warmup_s), n_shoppers=600,
                         run_id="w", prefix="6"),
        warm, opts.threads, "127.0.0.1")
    return Traffic(secrets, stem, loaded, warm)


def rotated(requests: list[bytes], start: float) -> list[bytes]:
    """The requests from the fraction ``start`` on, then the ones before (as wrk.lua does)."""
    skip = int(len(requests) * start) % max(len(requests), 1)
    return requests[skip:] + requests[:skip]


def drive(opts: Options, url: str, stem: Path, duration_s: float,
          start: float = 0.0) -> LoadResult:
    """Load ``url`` with the requests in ``stem``'s files, from the fraction ``start`` on."""
    if opts.generator == "wrk" and opts.wrk:
        return loadgen.run_wrk(opts.wrk, url, stem, threads=opts.threads,
                               connections=opts.connections, duration_s=duration_s,
                               start=start)
    requests = [raw for t in range(opts.threads) for raw in rotated(
        traffic.read_wrk_file(stem.with_name(f"{stem.name}.{t}")), start)]
    return loadgen.run_python(url, requests, connections=opts.connections,
                              duration_s=duration_s)


def run_bare(opts: Options, tr: Traffic, duration_s: float) -> RunResult:
    with servers.bare(opts.workdir / "bare.log") as server:
        drive(opts, server.url, tr.warm_stem, opts.warmup_s)
        before = server.sample()
        load = drive(opts, server.url, tr.stem, duration_s)
        after = server.sample()
    return RunResult("bare aiohttp", load, after.cpu_s - before.cpu_s, after.rss_kb / 1024,
                     after.hwm_kb / 1024, ready_s=server.ready_s,
                     handled=load.requests - load.error_count)


@contextlib.contextmanager
def _graph(opts: Options, tr: Traffic) -> Iterator[servers.Server]:
    twilio = f"{tr.secrets.twilio_account_sid}:{tr.secrets.twilio_auth_token}"
    with servers.fake_graph(tr.secrets.whatsapp_access_token, opts.workdir / "graph.log",
                            twilio=twilio) as graph:
        yield graph


def run_haat(opts: Options, tr: Traffic, label: str, *, shop: Path, database_url: str,
             duration_s: float, profile: Path | None = None, workers: int = 1,
             start: float = 0.0, extra_env: dict[str, str] | None = None) -> RunResult:
    """haat under the standard mix; with ``profile``, py-spy samples it during the load.

    ``start`` (a fraction of the request files) lets a later run on the same database send
    messages the earlier runs did not; ``extra_env`` goes to the server's environment."""
    log = opts.workdir / f"haat-{label.replace(' ', '_').replace('/', '_')}.log"
    with _graph(opts, tr) as graph, servers.haat(shop, database_url,
                                                 {**tr.secrets.env(), **(extra_env or {})}, log,
                                                 graph.url, workers) as server:
        drive(opts, server.url, tr.warm_stem, opts.warmup_s, start)
        m0 = servers.metrics(server)
        g0, s0 = graph.sample(), server.sample()
        d0, b0 = servers.postgres_cpu_s(database_url), servers.box_cpu_s()
        spy = _start_profile(server.proc.pid, duration_s, profile) if profile else None
        load = drive(opts, server.url, tr.stem, duration_s, start)
        s1, g1 = server.sample(), graph.sample()
        d1, b1 = servers.postgres_cpu_s(database_url), servers.box_cpu_s()
        m1 = servers.metrics(server)
        expected_out = m1.get("haat_outbox_sent_total", 0) - m0.get("haat_outbox_sent_total", 0)
        lag = _outbox_lag(server)
        m2 = servers.metrics(server)
        if spy is not None:
            spy.wait(timeout=duration_s + 60)
        result = RunResult(
            label, load, s1.cpu_s - s0.cpu_s, s1.rss_kb / 1024, s1.hwm_kb / 1024,
            ready_s=server.ready_s,
            handled=int(m1.get("haat_inbound_messages_total", 0)
                        - m0.get("haat_inbound_messages_total", 0)),
            duplicates=int(m1.get("haat_duplicate_messages_total", 0)
                           - m0.get("haat_duplicate_messages_total", 0)),
            server_errors=int(m2.get("haat_errors_total", 0) - m0.get("haat_errors_total", 0)),
            outbox_sent=int(m2.get("haat_outbox_sent_total", 0)
                            - m0.get("haat_outbox_sent_total", 0)),
            outbox_pending_after_s=lag, helper_cpu_s=g1.cpu_s - g0.cpu_s,
            children_rss_mb=(s1.rss_kb - servers.sample(server.proc.pid).rss_kb) / 1024,
            db={name: m1.get(f"haat_db_{name}_total", 0) - m0.get(f"haat_db_{name}_total", 0)
                for name in ("commits", "write_sets", "round_trips")},
            db_cpu_s=d1 - d0 if database_url.startswith("postgres") else 0.0,
            box_cpu_s=b1 - b0)
        if expected_out and lag >= 0.5:
            result.notes.append(f"outbox took {lag:.1f} s to drain after the load stopped")
    result.server_errors += servers.log_problems(log)
    result.handled -= result.duplicates  # a replayed duplicate is not a handled message
    if workers > 1:
        # /metrics answers for whichever process took the connection: count the answers the
        # load generator got instead (every request of the mix carries one message)
        result.handled = load.requests - sum(load.errors.values())
        result.notes.append("--workers: handled = answered requests; duplicates, errors and "
                            "outbox counts are one process's /metrics")
    if load.requests > tr.loaded:
        result.notes.append(f"sent {load.requests} requests but only {tr.loaded} are distinct: "
                            "raise --requests")
    if result.server_errors:
        result.notes.append(f"server log: see {log}")
    return result


def _outbox_lag(server: servers.Server, limit_s: float = 20.0) -> float:
    """Seconds until the outbox stops sending after the load ends (0 when already idle)."""
    began = time.monotonic()
    last = servers.metrics(server).get("haat_outbox_sent_total", 0)
    while time.monotonic() - began < limit_s:
        time.sleep(0.25)
        now = servers.metrics(server).get("haat_outbox_sent_total", 0)
        if now == last:
            waited = time.monotonic() - began - 0.25
            return max(0.0, waited)
        last = now
    return limit_s


def _start_profile(pid: int, duration_s: float, out: Path) -> subprocess.Popen[bytes] | None:
    spy = servers.VENV_BIN / "py-spy"
    if not spy.exists():
        return None
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(pid), "--duration", str(max(1, int(duration_s))),
         "--rate", "200", "--format", "raw", "--nonblocking", "--gil", "-o", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def startup_times(shop: Path, workdir: Path, runs: int = 3) -> list[float]:
    """Seconds from ``haat serve`` spawn to a 200 on /readyz (catalog loaded, NLU trained),
    against an already-migrated SQLite file (the steady state of a restart)."""
    secrets = traffic.Secrets(public_url="http://127.0.0.1")
    url = f"sqlite:///{workdir / 'startup.db'}"
    out: list[float] = []
    for i in range(runs + 1):
        with servers.haat(shop, url, secrets.env(), workdir / "startup.log",
                          "http://127.0.0.1:9") as server:
            if i:  # the first start creates and migrates the database: not counted
                out.append(server.ready_s)
    return out
