"""The benchmark function the lead merges into ``make bench BENCH=data`` keeps working:
a small run on the session's broker gives every figure, each plausible."""

from __future__ import annotations

import pytest

from loadtest.data_archive import measure

pytestmark = pytest.mark.kafka


def test_measure_gives_every_figure(kafka_settings, prefix, tmp_path) -> None:
    figures = measure(kafka_settings, prefix, tmp_path, events=3000)
    assert figures["events"] == 3000 and figures["archive_events_per_s"] > 0
    if figures["bytes_per_event_hot"] is None:
        print("bytes_per_event_hot: the broker's log.dirs are not on this machine")
    else:
        assert 0 < figures["bytes_per_event_hot"] < figures["bytes_per_event_jsonl"]
    assert 0 < figures["bytes_per_event_archive"] <= figures["bytes_per_event_cold"]
    assert figures["bytes_per_event_cold"] < figures["bytes_per_event_jsonl"]
    assert figures["archive_parts"] >= 1
