"""webhooks/metrics.py:LatencyHistogram writes prometheus_client's own histogram text."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from webhooks.metrics import LATENCY_BUCKETS, LatencyHistogram

# on, under, between and past the bounds, and past the last one (+Inf)
SECONDS = (0.0, 0.0001, 0.0005, 0.0007, 0.001, 0.05, 0.0500001, 0.3, 2.6, 10.0, 11.0)


def _text(registry: CollectorRegistry) -> str:
    # _created is each series' creation time: the only thing allowed to differ
    return re.sub(r"_created(\{[^}]*\})? \S+", r"_created\1 T", generate_latest(registry).decode())


@pytest.mark.parametrize("labelled", [False, True])
def test_exposition_is_prometheus_clients(labelled: bool) -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    names = ("channel",) if labelled else ()
    reference = Histogram("haat_x_seconds", "One x", names, buckets=LATENCY_BUCKETS,
                          registry=theirs)
    histogram = LatencyHistogram("haat_x_seconds", "One x", names, registry=ours)
    assert _text(ours) == _text(theirs)  # nothing observed yet
    for value in SECONDS:
        if labelled:
            reference.labels("whatsapp").observe(value)
            histogram.labels("whatsapp").observe(value)
            reference.labels("twilio").observe(value * 3)
            histogram.labels("twilio").observe(value * 3)
        else:
            reference.observe(value)
            histogram.observe(value)
    assert 'le="+Inf"' in _text(ours)
    assert _text(ours) == _text(theirs)


def test_labels_must_match() -> None:
    histogram = LatencyHistogram("haat_y_seconds", "One y", ("channel",))
    with pytest.raises(ValueError, match="label values"):
        histogram.labels()
    with pytest.raises(ValueError, match="labelled"):
        histogram.observe(0.1)
