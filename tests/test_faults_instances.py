"""Two instances of every batch service sharing the work: scale out, scale in, a kill -9
mid-stream, a restart under another instance id, and an instance frozen with SIGSTOP while
the other takes over. Each ends with exact counts read to the topics' end offsets.

Sessions and transactions time out after 10 s here (45 s and 30 s by default) so that the
takeovers they wait for fit a test; the code paths are the same."""

from __future__ import annotations

import re
import time

import pytest

from loadtest.bounce import BATCH_SERVICES, PER_MODEL_OUTPUTS, Fleet, Stream, Workload
from watchkeeper.runtime.watchdog import EXIT_STUCK

from .helpers import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.faults]
# Six models, keyed by name: spread over the six input partitions, so both instances work.
MODELS = tuple(f"m{i}" for i in range(6))
EVENTS = 9000
FAST_TAKEOVER = {"WK_SESSION_TIMEOUT_MS": "10000", "WK_TRANSACTION_TIMEOUT_MS": "10000"}


def exact(found: dict[str, dict]) -> None:
    assert {name: f["counted"] for name, f in found.items()} == dict.fromkeys(
        BATCH_SERVICES, EVENTS
    )
    assert {name: f["outputs"] for name, f in found.items() if "outputs" in f} == dict.fromkeys(
        PER_MODEL_OUTPUTS, len(MODELS)
    )


@pytest.fixture
def fleet(kafka_settings, prefix, tmp_path):
    fleet = Fleet(kafka_settings, prefix, tmp_path, models=MODELS)
    yield fleet
    fleet.stop()


def test_scale_out_scale_in_and_a_kill_mid_stream_count_exactly(fleet, record_property) -> None:
    fleet.start(BATCH_SERVICES, **FAST_TAKEOVER)
    workload = Workload(EVENTS, models=MODELS)
    stream = Stream(fleet, workload, seconds=24, fractions=(0.25, 0.5, 0.75))
    stream.marks[0].wait()
    for name in BATCH_SERVICES:  # scale out: the group rebalances onto two
        fleet.add(name, "b", **FAST_TAKEOVER).wait_healthy(timeout=120)
    stream.marks[1].wait()
    for name in BATCH_SERVICES:  # kill -9 of one: its supervisor starts it again
        fleet.services[name].kill()
    killed_at = time.monotonic()
    stream.marks[2].wait()
    scaled_in = {name: fleet.services[f"{name}-b"].stop() for name in BATCH_SERVICES}
    undelivered, found = stream.finish(BATCH_SERVICES)
    record_property("kill_to_caught_up_s", round(stream.drained_at - killed_at, 1))
    assert undelivered == 0
    exact(found)
    assert scaled_in == dict.fromkeys(BATCH_SERVICES, 0)
    assert {n: [r.exit_code for r in fleet.services[n].restarts] for n in BATCH_SERVICES} == (
        {name: [-9] for name in BATCH_SERVICES}
    )


def test_a_restart_under_another_instance_id_after_kill_9_counts_exactly(
    fleet, record_property
) -> None:
    for name in BATCH_SERVICES:
        fleet.add(name, "a", restart=False, **FAST_TAKEOVER)
    for service in fleet.services.values():
        service.wait_healthy(timeout=120)
    workload = Workload(EVENTS, models=MODELS)
    stream = Stream(fleet, workload, seconds=15, fractions=(0.4,))
    stream.marks[0].wait()
    killed_at = time.monotonic()
    for name in BATCH_SERVICES:
        # A new pod name: a new transactional id that fences nothing, and a static member
        # that is not the dead one. The dead one's open transaction is aborted when it
        # times out and its partitions move when its session does.
        fleet.services[name].kill()
        fleet.add(name, "c", **FAST_TAKEOVER).wait_healthy(timeout=120)
    undelivered, found = stream.finish(BATCH_SERVICES)
    # Bounded below by the session and transaction timeouts (10 s here) the takeover waits.
    record_property("kill_to_caught_up_s", round(stream.drained_at - killed_at, 1))
    assert undelivered == 0
    exact(found)


def test_a_frozen_instance_is_fenced_and_produces_nothing(fleet, record_property) -> None:
    fleet.start(BATCH_SERVICES, **FAST_TAKEOVER)
    for name in BATCH_SERVICES:
        fleet.add(name, "b", **FAST_TAKEOVER).wait_healthy(timeout=120)
    workload = Workload(EVENTS, models=MODELS)
    stream = Stream(fleet, workload, seconds=30, fractions=(0.2, 0.5))
    stream.marks[0].wait()
    frozen = {name: fleet.services[name] for name in BATCH_SERVICES}
    for service in frozen.values():
        service.freeze()  # a long GC pause or a frozen VM: sessions and transactions open
    frozen_at = time.monotonic()
    # The other instance takes over everything once the frozen one's session expired: the
    # groups catch up without it.
    stream.marks[1].wait()
    fleet.wait_caught_up(BATCH_SERVICES, timeout=180)
    record_property("freeze_to_taken_over_s", round(time.monotonic() - frozen_at, 1))
    for service in frozen.values():
        service.thaw()
    # Woken up, each frozen instance finds its group membership gone: the broker refuses
    # its transaction, which is aborted (nothing it had in flight is published), and the
    # instance rejoins; or, fenced for good, it ends and is restarted.
    wait_for(
        lambda: all(refused(s) for s in frozen.values()),
        timeout=120,
        what="every thawed instance's transaction refused",
    )
    undelivered, found = stream.finish(BATCH_SERVICES)
    assert undelivered == 0
    exact(found)
    for name, service in frozen.items():
        assert all(r.exit_code in (1, EXIT_STUCK) for r in service.restarts), name
        assert re.search(r"transaction aborted|fenced|FENCED", service.logs()), name


def refused(service) -> bool:
    """The thawed instance aborted a transaction the broker refused, or ended itself."""
    if service.restarts:
        return True
    return service.metric_sum("wk_engine_transactions_aborted_total") >= 1
