"""The app's metrics on ``/metrics``: latency histograms and the running counts.

Every app has its own :class:`prometheus_client.CollectorRegistry`, so two apps in one process
(the tests build many) never share a series. The latencies whose p50 and p99 the project's
targets name are prometheus histograms: a turn (``haat_turn_seconds``), the intent engine
(``haat_nlu_seconds``), a write set's wait for its commit (``haat_storage_commit_seconds``)
and a channel send (``haat_send_seconds{channel}``); one ``observe`` costs ~0.5 µs
(docs/ARCHITECTURE.md "Performance notes"). The counts stay plain integers on the hot path
and are read when ``/metrics`` is scraped, by :class:`_Counts`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# seconds: the fast turns of the benchmark (~1 ms) to a slow Rasa call or a stalled disk
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0)


class Reading(NamedTuple):
    """One value another part of the server reports at scrape time (storage, outbox, shops)."""

    kind: Literal["counter", "gauge"]
    name: str  # a counter's name without _total
    help: str
    value: float



@dataclass
class Metrics:
    started: float = field(default_factory=time.time)
    inbound: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: int = 0
    handled_seconds: float = 0.0
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    # readings of other parts, taken at scrape time
    readings: list[Callable[[], list[Reading]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        def histogram(name: str, doc: str, labels: tuple[str, ...] = ()) -> Histogram:
            return Histogram(name, doc, labels, buckets=LATENCY_BUCKETS,
                             registry=self.registry)

        self.turn_seconds = histogram("haat_turn_seconds",
                                      "One inbound message, from parsed to answered")
        self.nlu_seconds = histogram("haat_nlu_seconds", "One intent engine parse")
        self.commit_seconds = histogram("haat_storage_commit_seconds",
                                        "One write set, from submitted to committed")
        self.send_seconds = histogram("haat_send_seconds", "One outbox send to a channel",
                                      ("channel",))
        self.registry.register(_Counts(self))

    def exposition(self) -> bytes:
        """The Prometheus text format of everything above."""
        return generate_latest(self.registry)


@dataclass(eq=False)  # the registry keys its collectors by identity
class _Counts(Collector):
    """The plain counts as metric families, built only when scraped."""

    metrics: Metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        yield from (
            CounterMetricFamily("haat_inbound_messages", "Messages handled", m.inbound),
            CounterMetricFamily("haat_duplicate_messages", "Redeliveries answered again",
                                m.duplicates),
            CounterMetricFamily("haat_rejected_requests", "Bad signatures or bodies",
                                m.rejected),
            CounterMetricFamily("haat_errors", "Requests that failed with a 500", m.errors),
            CounterMetricFamily("haat_handle_seconds", "Time spent handling messages",
                                m.handled_seconds),
            GaugeMetricFamily("haat_uptime_seconds", "Seconds since start",
                              round(time.time() - m.started)),
        )
        for read in m.readings:
            for reading in read():
                family = CounterMetricFamily if reading.kind == "counter" else GaugeMetricFamily
                yield family(reading.name, reading.help, reading.value)

    def describe(self) -> Iterator[Metric]:
        return iter(())  # no description at registration: collect() reads live objects
