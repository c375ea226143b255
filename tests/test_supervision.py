"""The watchdog ends a stuck process with a reason; the devstack supervisor starts an exited
one again with backoff. Both as real processes: the exit code and the log line are the
contract a container runtime sees."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from watchkeeper.devstack import Backoff, ServiceProcess
from watchkeeper.runtime.http import Health
from watchkeeper.runtime.watchdog import EXIT_STUCK, Progress, Watchdog

from .helpers import wait_for

STUCK = textwrap.dedent(
    """
    import threading
    from watchkeeper.runtime import logs
    from watchkeeper.runtime.http import Health
    from watchkeeper.runtime.watchdog import Watchdog, exit_for_restart

    logs.configure("stuck")
    health = Health("stuck"); health.ready()
    dog = Watchdog(interval_s=0.05).start(exit_for_restart(health, "stuck"))
    with dog.call("send_offsets_to_transaction", bound_s=0.3):
        threading.Event().wait()  # what librdkafka #5456 does: never return
    """
)


def test_a_call_past_its_bound_ends_the_process_naming_the_call() -> None:
    result = subprocess.run(
        [sys.executable, "-c", STUCK], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == EXIT_STUCK
    lines = [json.loads(line) for line in (result.stdout + result.stderr).splitlines() if line]
    (critical,) = [line for line in lines if line.get("level") == "critical"]
    assert critical["call"] == "send_offsets_to_transaction"
    assert critical["bound_s"] == 0.3
    assert critical["exit_code"] == EXIT_STUCK
    assert "threading.py" in critical["stack"] and "in wait" in critical["stack"]


def test_health_names_the_stuck_call_and_the_stall() -> None:
    now = [0.0]
    health = Health("slo")
    health.ready()
    progress = Progress(stall_after_s=60, clock=lambda: now[0])
    health.add_check(progress.stalled, status="stalled")
    progress.waiting(lag=12)
    now[0] = 59
    assert health.report() == (200, {"service": "slo", "status": "ok"})
    now[0] = 61
    status, body = health.report()
    assert (status, body["status"]) == (503, "stalled")
    assert body["problems"] == ["no event processed for 61 s while 12 wait"]
    progress.waiting(lag=0)  # caught up: idle is not stalled
    assert health.report()[0] == 200
    health.failed("stuck in consume: 40 s without returning (bound 35 s)")
    assert health.report() == (
        503,
        {
            "service": "slo",
            "status": "failed",
            "reason": "stuck in consume: 40 s without returning (bound 35 s)",
        },
    )


def test_only_the_innermost_call_of_each_thread_is_bounded() -> None:
    now = [0.0]
    dog = Watchdog(clock=lambda: now[0])
    with dog.call("loop", bound_s=10):
        with dog.call("consume", bound_s=100):
            now[0] = 50
            assert dog.current() == "consume"
            assert dog.overrun() is None
        assert dog.current() == "loop"
        now[0] = 61  # 11 s since consume returned
        found = dog.overrun()
        assert (found.call, found.elapsed_s, found.bound_s) == ("loop", 11, 10)
    assert dog.current() is None and dog.overrun() is None


def test_the_supervisor_restarts_with_backoff_until_the_service_stays_up(tmp_path) -> None:
    heard = []
    service = ServiceProcess(
        "tests.crashloop",
        {"COUNT_FILE": str(tmp_path / "starts"), "CRASHES": "3"},
        tmp_path / "crashloop.log",
        restart=True,
        backoff=Backoff(first_s=0.05, max_s=0.1),
        on_restart=lambda svc, restart: heard.append(restart),
    )
    service.wait_healthy(timeout=60)
    assert [r.exit_code for r in service.restarts] == [3, 3, 3]
    assert [r.backoff_s for r in service.restarts] == [0.05, 0.1, 0.1]
    assert heard == service.restarts
    assert service.logs().count("--- supervisor: exited with 3; restarting") == 3
    first = service.pid
    service.kill()  # a crash of a supervised process: started again
    wait_for(lambda: service.pid != first and service.health()[0] == 200, what="restart")
    assert [r.exit_code for r in service.restarts] == [3, 3, 3, -9]
    assert service.stop() == 0  # asked to stop: not restarted
    assert len(service.restarts) == 4
    assert (tmp_path / "starts").read_text() == "5"


def test_without_supervision_an_exit_is_reported_not_restarted(tmp_path) -> None:
    service = ServiceProcess(
        "tests.crashloop",
        {"COUNT_FILE": str(tmp_path / "starts"), "CRASHES": "1"},
        tmp_path / "crashloop.log",
    )
    try:
        service.wait_healthy(timeout=60)
    except RuntimeError as exc:
        assert "exited early" in str(exc)
    else:
        raise AssertionError("a crashed unsupervised service was reported healthy")
    assert service.process.returncode == 3 and service.restarts == []
    service.stop()
