"""The broker-bounce workload, shared by the fault tests and ``make bench BENCH=bounce``.

Every prediction consumer runs as a real, supervised process (slo, cost, quality, drift,
fairness and counter); the SDK sends ``n`` predictions, all in one 10-second event-time
window of the recent past, and then their labels; then a tail of predictions in a later
window closes that window everywhere and gives drift one more evaluation. What each
service counted is read back from its output topic to the end offsets, so a lost or a
doubled event shows as a wrong number:

========== ===================================================================
service    events counted
========== ===================================================================
slo        the window's ``count`` (one window, not two)
cost       the month aggregate's ``requests`` minus the tail
quality    the window's report ``events``
fairness   the window's report ``events``
drift      the labelled predictions (``labelled``) in the last report
counter    its ``wk_counter_events_total`` for predictions, minus the tail
========== ===================================================================
"""

from __future__ import annotations

import calendar
import importlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchkeeper.codec import Codec
from watchkeeper.devstack import Backoff, Restart, ServiceProcess
from watchkeeper.devstack._offsets import read_to_end, wait_caught_up
from watchkeeper.local_kafka import free_port
from watchkeeper.sdk import Emitter
from watchkeeper.settings import KafkaSettings

CODEC = Codec()
WINDOW_MS = 10_000
TAIL = 500  # drift evaluates every 500 events: the tail ends in exactly one more report
BATCH_SERVICES = ("slo", "cost", "quality", "drift", "fairness")
SERVICES = (*BATCH_SERVICES, "counter")
# The services whose output holds one record per window (or last report) and model.
PER_MODEL_OUTPUTS = ("slo", "quality", "fairness", "drift")


def config_files(models: tuple[str, ...]) -> dict[str, str]:
    quality = "".join(
        f"  {m}:\n    gate: {m}-training\n"
        f"    fields:\n      features.amount: {{type: number, required: true, min: 0}}\n"
        for m in models
    )
    fairness = "".join(f"  {m}: {{protected: [gender], favorable: [approve]}}\n" for m in models)
    return {
        "cost.yaml": "llm: {}\n",
        "quality.yaml": (
            "defaults: {window: 10s, min_events: 5, for: 1, recover: 1, max_age: 1h,"
            " silence: 1h, source_silence: 1h}\ncontracts:\n" + quality
        ),
        "fairness.yaml": "defaults: {window: 10s, min_group_size: 30, for: 1}\nmodels:\n"
        + fairness,
        # A label window that holds every labelled prediction: one counted twice would show.
        "drift.yaml": (
            "defaults: {reference_events: 200, label_window: 1000000, min_labels: 200}\n"
        ),
    }


def inputs(name: str) -> list[str]:
    """The topics a service consumes, as its spec declares them (or, for a service not
    declared as a spec yet, its wiring)."""
    try:
        return list(importlib.import_module(f"services.{name}.spec").SPEC.inputs)
    except ModuleNotFoundError:
        app = importlib.import_module(f"services.{name}.app")
        return [t if isinstance(t, str) else t[0] for t in app.INPUTS]


def service_env(name: str, config_dir: Path, instance: str) -> dict[str, str]:
    env = {"WK_INSTANCE_ID": instance}
    if name == "slo":
        env |= {"WK_SLO_WINDOW_S": "10", "WK_SLO_GRACE_S": "1", "WK_SLO_IDLE_S": "600"}
    elif name == "cost":
        env |= {
            "WK_COST_CONFIG": str(config_dir / "cost.yaml"),
            "WK_COST_IDLE_S": "600",
            "WK_COST_PUBLISH_INTERVAL_S": "0.2",
        }
    elif name == "quality":
        env |= {
            "WK_QUALITY_CONTRACTS": str(config_dir / "quality.yaml"),
            "WK_QUALITY_GRACE_S": "1",
            "WK_QUALITY_IDLE_S": "600",
            "WK_QUALITY_GATE_PORT": str(free_port()),  # two instances share this host
        }
    elif name == "fairness":
        env |= {
            "WK_FAIRNESS_CONFIG": str(config_dir / "fairness.yaml"),
            "WK_FAIRNESS_GRACE_S": "1",
            "WK_FAIRNESS_IDLE_S": "600",
        }
    elif name == "drift":
        env |= {"WK_DRIFT_CONFIG": str(config_dir / "drift.yaml")}
    return env


def window_start(now_ms: int | None = None) -> int:
    """A window a minute in the past, so that no service closes it by the wall clock."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return now - now % WINDOW_MS - 6 * WINDOW_MS


def month_start(ms: int) -> int:
    t = time.gmtime(ms / 1000)
    return calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0)) * 1000


@dataclass
class Fleet:
    """The services of one run, each a supervised :class:`ServiceProcess`."""

    settings: KafkaSettings
    prefix: str
    workdir: Path
    models: tuple[str, ...] = ("fraud",)
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    on_restart: Callable[[ServiceProcess, Restart], None] | None = None

    def __post_init__(self) -> None:
        for filename, text in config_files(self.models).items():
            (self.workdir / filename).write_text(text)

    def start(self, names=SERVICES, instance: str = "a", **extra: str) -> Fleet:
        for name in names:
            self.add(name, instance, **extra)
        for service in self.services.values():
            service.wait_healthy(timeout=120)
        return self

    def add(
        self, name: str, instance: str = "a", restart: bool = True, **extra: str
    ) -> ServiceProcess:
        """Start ``name`` as instance ``instance``, supervised unless ``restart`` is false.
        The first instance of a service is ``services[name]``, others ``name-instance``."""
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.settings.bootstrap_servers,
            "WK_TOPIC_PREFIX": self.prefix,
            **service_env(name, self.workdir, f"{name}-{instance}"),
            **extra,
        }
        key = f"{name}-{instance}" if name in self.services else name
        self.services[key] = ServiceProcess(
            f"services.{name}",
            env,
            self.workdir / f"{key}.log",
            restart=restart,
            backoff=Backoff(first_s=0.5, max_s=5.0),
            on_restart=self.on_restart,
        )
        return self.services[key]

    def stop(self) -> dict[str, int]:
        return {name: service.stop() for name, service in self.services.items()}

    def groups(self, names=SERVICES) -> dict[str, list[str]]:
        return {self.prefix + n: [self.prefix + t for t in inputs(n)] for n in names}

    def wait_caught_up(self, names=SERVICES, timeout: float = 180.0) -> float:
        return wait_caught_up(self.settings, self.groups(names), timeout)


@dataclass
class Workload:
    """``n`` labelled predictions in one window, then :data:`TAIL` more to close it."""

    n: int
    models: tuple[str, ...] = ("fraud",)
    start_ms: int = field(default_factory=window_start)

    @property
    def tail(self) -> int:
        return TAIL * len(self.models)

    def event(self, i: int) -> dict:
        return {
            "model": self.models[i % len(self.models)],
            "version": "3",
            "latency_ms": 1.0 + i % 97,
            "status": "ERROR" if i % 50 == 0 else "OK",
            "label": "approve" if i % 3 else "deny",
            "num_features": {"amount": 10.0 + i % 89, "age": 20.0 + i % 53},
            "segments": {"gender": "f" if i % 2 else "m"},
            "cost_usd": (1 + i % 8) / 64,  # multiples of 1/64: sums are exact
        }

    def event_time(self, i: int) -> int:
        return self.start_ms + i * (WINDOW_MS - 2000) // self.n

    def send(
        self,
        emitter: Emitter,
        first: int = 0,
        last: int | None = None,
        pace: Callable[[int], None] | None = None,
    ) -> None:
        """Predictions ``first``..``last`` (default: all)."""
        for i in range(first, self.n if last is None else last):
            emitter.prediction(
                **self.event(i), event_id=f"{self.start_ms}-{i}", event_time_ms=self.event_time(i)
            )
            if pace is not None:
                pace(i)

    def send_labels(self, emitter: Emitter) -> None:
        """A label for every prediction, once they were all processed: a label read before
        its prediction joins nothing (feedback is another topic, with no order between)."""
        for i in range(self.n):
            emitter.feedback(
                event_id=f"{self.start_ms}-{i}",
                model=self.models[i % len(self.models)],
                label="legit",
                event_time_ms=self.event_time(i) + 1,
            )

    def send_tail(self, emitter: Emitter) -> None:
        later = self.start_ms + 2 * WINDOW_MS
        for i in range(self.tail):
            emitter.prediction(**self.event(i), event_time_ms=later + i)

    def expected_cost(self) -> float:
        """The month's spend, tail included: sums of multiples of 1/64, exact in floats."""
        return sum((1 + i % 8) / 64 for i in range(self.n)) + sum(
            (1 + i % 8) / 64 for i in range(self.tail)
        )


def decoded(settings: KafkaSettings, topic: str, schema: str) -> list[tuple[bytes, dict]]:
    return [(m.key(), CODEC.decode_as(schema, m.value())) for m in read_to_end(settings, topic)]


def counted(fleet: Fleet, workload: Workload, names=SERVICES) -> dict[str, dict]:
    """What each service counted, read from its output to the end offsets. ``outputs``
    (for the services that write one record per window and model) is how many records of
    the window it wrote: one per model unless something was doubled. cost keeps updating
    one aggregate and counter has no output topic: only their counts apply."""
    settings, prefix, start = fleet.settings, fleet.prefix, workload.start_ms
    found: dict[str, dict] = {}
    windowed = (
        ("slo", "windows", "WindowAggregate", "count"),
        ("quality", "quality-reports", "QualityReport", "events"),
        ("fairness", "fairness-reports", "FairnessReport", "events"),
    )
    for name, topic, schema, field_name in windowed:
        if name in names:
            records = [
                r
                for _, r in decoded(settings, prefix + topic, schema)
                if r["window_start_ms"] == start
            ]
            found[name] = {
                "counted": sum(r[field_name] for r in records),
                "outputs": len(records),
            }
    if "cost" in names:
        key = f"all|month|{month_start(start)}".encode()
        months = [
            r for k, r in decoded(settings, prefix + "cost-aggregates", "CostAggregate") if k == key
        ]
        last = months[-1] if months else {"requests": workload.tail, "cost_usd": 0.0}
        found["cost"] = {"counted": last["requests"] - workload.tail, "cost_usd": last["cost_usd"]}
    if "drift" in names:
        last_report: dict[str, dict] = {}
        for _, r in decoded(settings, prefix + "drift-reports", "DriftReport"):
            last_report[r["model"]] = r
        found["drift"] = {
            "counted": sum(r["labelled"] for r in last_report.values()),
            "outputs": len(last_report),
        }
    if "counter" in names:
        counter = fleet.services["counter"]
        events = counter.metric_sum("wk_counter_events_total", topic="predictions")
        found["counter"] = {"counted": int(events) - workload.tail}
    return found


class Recovery:
    """When each service processed events again after ``mark()`` (the broker is back):
    its processed counter grew, or its restarted process processed anything at all."""

    def __init__(self, fleet: Fleet, names=SERVICES, interval_s: float = 0.2) -> None:
        self.fleet, self.names, self.interval_s = fleet, list(names), interval_s
        self.back_at: float | None = None
        self.recovered_s: dict[str, float] = {}
        self._before: dict[str, tuple[int, float]] = {}
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="recovery", daemon=True)

    def _processed(self, key: str) -> float:
        service = self.fleet.services[key]
        try:
            return service.metric_sum(
                "wk_events_processed_total", topic=self.fleet.prefix + "predictions"
            )
        except OSError:  # restarting, or too busy to answer: ask again
            return -1.0

    def mark(self) -> None:
        self._before = {k: (self.fleet.services[k].pid, self._processed(k)) for k in self.names}
        self.back_at = time.monotonic()
        self._thread.start()

    def _watch(self) -> None:
        while len(self.recovered_s) < len(self.names) and not self._halt.wait(self.interval_s):
            for key in self.names:
                if key in self.recovered_s:
                    continue
                pid, before = self._before[key]
                now = self._processed(key)
                moved = self.fleet.services[key].pid != pid
                if (now > before and not moved) or (moved and now > 0):
                    self.recovered_s[key] = time.monotonic() - self.back_at

    def stop(self) -> dict[str, float]:
        self._halt.set()
        self._thread.join(5)
        return dict(self.recovered_s)


def paced(total: int, seconds: float) -> Callable[[int], None]:
    """Spread ``total`` events over about ``seconds``, so that a fault lands mid-stream."""
    every = max(1, total // 200)

    def pace(i: int) -> None:
        if i % every == 0:
            time.sleep(seconds / 200)

    return pace


class Stream:
    """The workload sent on a thread, paced over about ``seconds``; ``marks[k]`` is set
    once the fraction ``fractions[k]`` of it was handed to the SDK, so that a test can
    inject its fault mid-stream."""

    def __init__(
        self, fleet: Fleet, workload: Workload, seconds: float = 20.0, fractions=(1 / 3,)
    ) -> None:
        self.fleet, self.workload = fleet, workload
        self.emitter = Emitter(fleet.settings, prefix=fleet.prefix, client_id="bounce")
        at = {int(workload.n * f): threading.Event() for f in fractions}
        self.marks = list(at.values())
        pace = paced(workload.n, seconds)

        def step(i: int) -> None:
            pace(i)
            if i in at:
                at[i].set()

        self._thread = threading.Thread(target=workload.send, args=(self.emitter, 0, None, step))
        self._thread.start()

    def finish(self, names=SERVICES) -> tuple[int, dict[str, dict]]:
        """Wait for the rest to be sent and processed, send the labels and the tail, wait
        again; return (events the SDK could not deliver, what each service counted)."""
        self._thread.join()
        undelivered = self.emitter.flush(120)
        self.fleet.wait_caught_up(names)
        self.drained_at = time.monotonic()
        self.workload.send_labels(self.emitter)
        undelivered += self.emitter.flush(60)
        self.fleet.wait_caught_up(names)
        self.workload.send_tail(self.emitter)
        undelivered += self.emitter.close(60)
        self.fleet.wait_caught_up(names)
        return undelivered, counted(self.fleet, self.workload, names)


def bounce(
    fleet: Fleet,
    workload: Workload,
    kill: Callable[[], None],
    restart: Callable[[], None],
    down_s: float = 5.0,
    send_s: float = 20.0,
    names=SERVICES,
) -> dict:
    """Send the workload; a third of the way in, ``kill()`` a broker, wait ``down_s``,
    ``restart()`` it; wait until every service caught up; return what each counted and how
    long it took to process again once the broker was back."""
    stream = Stream(fleet, workload, send_s)
    stream.marks[0].wait()
    kill()
    time.sleep(down_s)  # the outage itself: what a broker restart takes in production
    restart()
    recovery = Recovery(fleet, names)
    recovery.mark()
    undelivered, found = stream.finish(names)
    recovered = recovery.stop()
    for name, figures in found.items():
        figures["recovery_s"] = recovered.get(name)
        figures["restarts"] = len(fleet.services[name].restarts)
    # Broker back -> every group caught up with everything sent (the rest of the stream is
    # paced the same in every run, so runs compare on this).
    drained_s = stream.drained_at - recovery.back_at
    return {"undelivered": undelivered, "services": found, "drained_s": drained_s}
