"""Cluster failover with two real clusters (two single-node KRaft brokers a and b): the
SDK switches producing when a is SIGKILLed and fails back when it returns, losing nothing
within its buffer; a service re-executes onto b, marks it, and stays there after a returns.

Counts are read back to the end offsets of both clusters: a duplicate or a loss shows."""

from __future__ import annotations

import collections
import statistics
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from confluent_kafka import KafkaException, Producer

from watchkeeper import topic_admin
from watchkeeper.codec import Codec
from watchkeeper.devstack import ServiceProcess
from watchkeeper.devstack._offsets import read_to_end
from watchkeeper.local_kafka import LocalKafka
from watchkeeper.ports import free_port
from watchkeeper.runtime.follow import read_markers
from watchkeeper.sdk import Emitter
from watchkeeper.settings import KafkaSettings

from .helpers import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.faults]
CODEC = Codec()


@dataclass
class Pair:
    a: LocalKafka
    b: LocalKafka

    def up(self) -> None:
        """Both clusters running (a test before may have left one down)."""
        down = [k for k in (self.a, self.b) if not k.reachable(timeout=2)]
        launched = [(k, k.launch()) for k in down]
        for kafka, process in launched:
            kafka.wait_ready(process, timeout=120)

    def settings(self, kafka: LocalKafka) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=kafka.bootstrap)

    def prefix(self) -> str:
        value = f"t{uuid.uuid4().hex[:10]}."
        for kafka in (self.a, self.b):
            topic_admin.apply(self.settings(kafka), prefix=value)
        return value


@pytest.fixture(scope="module")
def clusters(tmp_path_factory) -> Iterator[Pair]:
    home = tmp_path_factory.mktemp("clusters")
    pair = Pair(
        *(
            LocalKafka(home=home / name, port=free_port(), controller_port=free_port())
            for name in "ab"
        )
    )
    try:
        pair.up()
        yield pair
    finally:
        pair.a.down()
        pair.b.down()


def settled_read(settings: KafkaSettings, topic: str) -> list:
    """read_to_end, once a restarted broker leads its partitions again."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return read_to_end(settings, topic)
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def event_ids(settings: KafkaSettings, topic: str) -> list[str]:
    return [CODEC.decode(m.value()).record["event_id"] for m in settled_read(settings, topic)]


def emit(sdk: Emitter, ids: list[str], n: int, costs: list[float] | None = None) -> None:
    for _ in range(n):
        started = time.perf_counter()
        ids.append(sdk.prediction(model="fraud", version="1", latency_ms=1.0))
        if costs is not None:
            costs.append(time.perf_counter() - started)


def emit_until(sdk: Emitter, ids: list[str], done, what: str, timeout: float = 90.0) -> None:
    """A steady stream (pacing, not synchronisation) until ``done()`` or the deadline."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        emit(sdk, ids, 20)
        time.sleep(0.02)


def test_sdk_fails_over_to_b_and_back_losing_nothing(clusters: Pair) -> None:
    clusters.up()
    prefix = clusters.prefix()
    a, b = clusters.a.bootstrap, clusters.b.bootstrap
    sdk = Emitter(
        clusters.settings(clusters.a),
        prefix=prefix,
        client_id="failover-it",
        buffer_size=50_000,
        clusters=[a, b],
        failover_after_s=3.0,
        failback_after_s=4.0,
    )
    ids: list[str] = []
    sdk.assign("fraud", "user-1", default_version="1")  # starts the routing reader
    emit(sdk, ids, 2000)
    assert sdk.flush(30) == 0 and sdk.active_cluster == a
    emit(sdk, ids, 500)  # mid-stream: some of these are in flight when a dies
    killed_at = time.monotonic()
    clusters.a.kill()
    assert sdk.failover is not None
    emit_until(sdk, ids, lambda: sdk.failover.switches == 1, "the switch to b")
    assert sdk.active_cluster == b
    # assign()'s routing reader follows the switch (it restarts there, splits kept).
    wait_for(lambda: sdk._routing._settings.bootstrap_servers == b, what="routing on b")
    wait_for(lambda: sdk._routing._thread is not None, what="routing reader running on b")
    switch_s = sdk.failover.last_switch_s - killed_at
    emit(sdk, ids, 1000)
    assert sdk.flush(30) == 0
    clusters.up()  # a is back, on its data
    emit_until(sdk, ids, lambda: sdk.failover.switches == 2, "the failback to a", timeout=120)
    assert sdk.active_cluster == a
    after: list[str] = []
    emit(sdk, after, 500)
    ids += after
    assert sdk.close(timeout=30) == 0
    assert sdk.dropped == 0

    on_a = event_ids(clusters.settings(clusters.a), prefix + "predictions")
    on_b = event_ids(clusters.settings(clusters.b), prefix + "predictions")
    both = on_a + on_b
    assert set(both) == set(ids)  # nothing lost
    assert len(set(ids)) == len(ids)
    duplicates = len(both) - len(set(both))
    # Only the purged in-flight ones can be on both clusters (and each at most twice).
    assert duplicates <= sdk.failover.maybe_duplicated
    assert max(collections.Counter(both).values()) <= 2
    assert set(after) <= set(on_a)  # after the failback, new events land on a
    assert sdk.failover.switches == 2
    print(
        f"\nswitch {switch_s:.1f} s after a's death; reclaimed {sdk.failover.reclaimed}, "
        f"maybe duplicated {sdk.failover.maybe_duplicated}, duplicates {duplicates}; "
        f"a {len(on_a)}, b {len(on_b)}"
    )


def test_both_down_never_blocks_and_only_counted_drops_are_missing(clusters: Pair) -> None:
    clusters.up()
    prefix = clusters.prefix()
    clusters.a.kill()
    clusters.b.kill()
    sdk = Emitter(
        clusters.settings(clusters.a),
        prefix=prefix,
        client_id="both-down-it",
        buffer_size=200,
        clusters=[clusters.a.bootstrap, clusters.b.bootstrap],
        failover_after_s=1.0,
        failback_after_s=60.0,
    )
    ids: list[str] = []
    costs: list[float] = []
    emit(sdk, ids, 2000, costs)
    # The outage outlasts the buffer: beyond 200 held, the oldest go, all counted.
    assert sdk.drops() == {"buffer_full": sdk.dropped}
    assert 1800 <= sdk.dropped < 2000
    wait_for(lambda: sdk.failover.policy.unreachable(1), what="b probed down", timeout=30)
    emit(sdk, ids, 100, costs)  # still never blocks, with the failover thread probing
    clusters.up()
    assert sdk.flush(60) == 0
    assert sdk.close(timeout=10) == 0

    on_a = event_ids(clusters.settings(clusters.a), prefix + "predictions")
    on_b = event_ids(clusters.settings(clusters.b), prefix + "predictions")
    delivered = set(on_a + on_b)
    assert delivered <= set(ids)
    assert len(set(ids) - delivered) == sdk.dropped  # exactly the counted drops are missing
    print(
        f"\nboth down: {len(costs)} emits, median {statistics.median(costs) * 1e6:.1f} µs, "
        f"max {max(costs) * 1e3:.2f} ms; dropped {sdk.dropped}"
    )


def counter(clusters: Pair, prefix: str, tmp_path, name: str) -> ServiceProcess:
    return ServiceProcess(
        "services.counter",
        {
            "KAFKA_BOOTSTRAP_SERVERS": clusters.a.bootstrap,
            "WK_KAFKA_CLUSTERS": f"{clusters.a.bootstrap};{clusters.b.bootstrap}",
            "WK_FAILOVER_AFTER_S": "3",
            "WK_TOPIC_PREFIX": prefix,
            "WK_ENGINE": "batch",
        },
        tmp_path / f"{name}.log",
        restart=True,  # as in production: a supervisor would restart a crashed one
    )


def processed(service: ServiceProcess, prefix: str) -> float:
    return service.metric(
        "wk_events_processed_total", service="counter", topic=prefix + "predictions"
    )


def test_a_service_moves_to_b_marks_it_and_stays(clusters: Pair, tmp_path) -> None:
    clusters.up()
    prefix = clusters.prefix()
    on_a, on_b = clusters.settings(clusters.a), clusters.settings(clusters.b)
    service = counter(clusters, prefix, tmp_path, "counter")
    try:
        service.wait_healthy(timeout=120)
        pid = service.pid
        with Emitter(
            on_a, prefix=prefix, client_id="svc-a", clusters=[on_a.bootstrap_servers]
        ) as sdk:
            for _ in range(10):
                sdk.prediction(model="fraud", version="1", latency_ms=1.0)
        wait_for(lambda: processed(service, prefix) == 10, what="10 on a")

        clusters.a.kill()
        killed_at = time.monotonic()

        def unhealthy():
            status, body = service.health()
            return status == 503 and body

        body = wait_for(unhealthy, timeout=30, what="/healthz not ok during the outage")
        assert "unreachable" in " ".join(body.get("problems", []))
        markers = wait_for(lambda: read_markers(on_b, prefix), timeout=60, what="marker on b")
        assert [(m.cluster, m.bootstrap) for m in markers] == [(1, on_b.bootstrap_servers)]
        assert markers[0].by.startswith("counter@")
        service.wait_healthy(timeout=120)
        moved_s = time.monotonic() - killed_at
        assert service.pid == pid and service.restarts == []  # re-executed, not restarted
        assert "moving to cluster 1" in service.logs()

        with Emitter(
            on_b, prefix=prefix, client_id="svc-b", clusters=[on_b.bootstrap_servers]
        ) as sdk:
            for _ in range(7):
                sdk.prediction(model="fraud", version="1", latency_ms=1.0)
        raw = Producer(on_b.confluent())
        raw.produce(prefix + "predictions", b"not an event", b"fraud")
        assert raw.flush(10) == 0
        wait_for(lambda: processed(service, prefix) == 7, what="7 on b")
        # An output record on b: the bad message's dead letter.
        dead = wait_for(lambda: settled_read(on_b, prefix + "dlq"), what="a dead letter on b")
        assert [m.value() for m in dead] == [b"not an event"]
        assert service.stop() == 0

        clusters.up()  # a is back; a service restarted now must still join b
        service = counter(clusters, prefix, tmp_path, "counter-again")
        service.wait_healthy(timeout=120)
        assert "joins cluster 1" in service.logs()
        with Emitter(
            on_b, prefix=prefix, client_id="svc-b2", clusters=[on_b.bootstrap_servers]
        ) as sdk:
            sdk.prediction(model="fraud", version="1", latency_ms=1.0)
        wait_for(lambda: processed(service, prefix) >= 1, what="processing on b again")
        assert read_markers(on_a, prefix) == []
        print(f"\nservice on b and healthy {moved_s:.1f} s after a's death")
    finally:
        service.stop()


def test_parallel_probe_of_a_dead_cluster_returns_none(clusters: Pair) -> None:
    """read_markers says 'unreachable' (None) for a dead cluster, [] for one without any."""
    clusters.up()
    prefix = clusters.prefix()
    dead = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}")
    with ThreadPoolExecutor(2) as pool:
        found = list(
            pool.map(lambda s: read_markers(s, prefix), [clusters.settings(clusters.a), dead])
        )
    assert found == [[], None]


def test_failover_cli_promotes_and_reports(clusters: Pair, monkeypatch, capsys) -> None:
    from watchkeeper.cli import main

    clusters.up()
    prefix = clusters.prefix()
    monkeypatch.setenv("WK_KAFKA_CLUSTERS", f"{clusters.a.bootstrap};{clusters.b.bootstrap}")
    monkeypatch.setenv("WK_TOPIC_PREFIX", prefix)
    assert main(["failover", "status"]) == 0
    assert "joins cluster 0" in capsys.readouterr().out
    assert main(["failover", "promote", clusters.b.bootstrap]) == 0
    assert main(["failover", "status"]) == 0
    out = capsys.readouterr().out
    assert "joins cluster 1" in out and "newest marker: cluster 1" in out
    assert main(["failover", "promote", "0"]) == 0  # the operator's failback
    assert "joins cluster 0" in (main(["failover", "status"]), capsys.readouterr().out)[1]
    assert main(["failover", "promote", "7"]) == 2
    assert "unknown cluster '7'" in capsys.readouterr().err
