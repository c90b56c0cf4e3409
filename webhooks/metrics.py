"""The app's metrics on ``/metrics``: latency histograms and the running counts.

Every app has its own :class:`prometheus_client.CollectorRegistry`, so two apps in one process
(the tests build many) never share a series. The latencies whose p50 and p99 the project's
targets name are prometheus histograms: a turn (``haat_turn_seconds``), the intent engine
(``haat_nlu_seconds``), a write set's wait for its commit (``haat_storage_commit_seconds``)
and a channel send (``haat_send_seconds{channel}``), in :class:`LatencyHistogram`, which
writes prometheus_client's exposition of a histogram from plain counts. The counts stay
plain integers on the hot path and are read when ``/metrics`` is scraped, by :class:`_Counts`.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from math import inf
from typing import Literal, NamedTuple

from prometheus_client import CollectorRegistry, generate_latest
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


class _Series:
    """One histogram series: a count per bucket and the sum, as plain numbers."""

    __slots__ = ("_bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        """Count one observation: ~20 times cheaper than prometheus_client's ``observe``.

        That one takes a lock per bucket and walks the bounds in Python (~7,000 instructions,
        three times a message: bench/instructions.py). Every observation here is made on the
        event loop's thread, as is the scrape, so plain numbers need no lock.
        """
        self.counts[bisect_left(self._bounds, amount)] += 1
        self.sum += amount


class LatencyHistogram(Collector):
    """A prometheus histogram of seconds (``observe``, ``labels(...).observe``) whose text
    exposition is prometheus_client's own: buckets, ``_count``, ``_sum``, ``_created``."""

    def __init__(self, name: str, doc: str, labelnames: tuple[str, ...] = (),
                 buckets: tuple[float, ...] = LATENCY_BUCKETS,
                 registry: CollectorRegistry | None = None) -> None:
        self.name, self.doc, self.labelnames = name, doc, labelnames
        self._bounds = (*buckets, inf) if buckets[-1] != inf else buckets
        self._children: dict[tuple[str, ...], _Series] = {}
        self._plain = None if labelnames else self._child(())
        if registry is not None:
            registry.register(self)

    def _child(self, values: tuple[str, ...]) -> _Series:
        series = self._children.get(values)
        if series is None:
            series = self._children[values] = _Series(self._bounds)
        return series

    def labels(self, *values: str) -> _Series:
        """The series of these label values (created on first use)."""
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name}: {len(self.labelnames)} label values expected")
        return self._child(tuple(str(v) for v in values))

    def observe(self, amount: float) -> None:
        """Count one observation of an unlabelled histogram."""
        if self._plain is None:
            raise ValueError(f"{self.name}: labelled, use labels(...).observe")
        self._plain.observe(amount)

    def collect(self) -> Iterator[Metric]:
        family = Metric(self.name, self.doc, "histogram")
        bounds = ["+Inf" if b == inf else repr(float(b)) for b in self._bounds]  # as Go does
        for values, series in self._children.items():
            labels = dict(zip(self.labelnames, values, strict=True))
            acc = 0.0
            for le, count in zip(bounds, series.counts, strict=True):
                acc += count
                family.add_sample(self.name + "_bucket", {**labels, "le": le}, acc)
            family.add_sample(self.name + "_count", labels, acc)
            family.add_sample(self.name + "_sum", labels, series.sum)
            family.add_sample(self.name + "_created", labels, series.created)
        yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())  # series appear on first use; collect() reads them live


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
        def histogram(name: str, doc: str, labels: tuple[str, ...] = ()) -> LatencyHistogram:
            return LatencyHistogram(name, doc, labels, registry=self.registry)

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
