"""The failover drill: cluster a dies mid-stream; the system carries on from cluster b.

Cluster a replicates to b with MirrorMaker 2 (topics, state topics and committed group
offsets). The services and the SDK are given both clusters. Once traffic is steady and b
has caught up, a is killed with SIGKILL and, at the same instant, one model starts failing:
its alert can only come from services that followed the switch to b.

* **RTO**: a's death to the first alert delivered to on-call from b.
* **RPO**: events a had acknowledged that b never got, as a count and as seconds (how far
  back before the death the oldest of them lies). Measured by reading b's topic, then
  stopping the mirror and starting a again on its data to read what it held.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException

from ..codec import Codec
from ..devstack import WebhookReceiver
from ..devstack._offsets import read_to_end
from ..mirror import Mirror
from ..mirror.probe import wait_caught_up
from ..sdk import Emitter
from ..settings import KafkaSettings
from . import _stack
from ._rpo import RecoveryPoint, recovery_point
from ._traffic import Traffic

STEADY, VICTIM = "drill-steady", "drill-victim"
# What a broker answers while it is still loading its partitions after a restart.
_NOT_YET = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._TRANSPORT,
    KafkaError._TIMED_OUT,
    KafkaError._ALL_BROKERS_DOWN,
}


@dataclass(frozen=True)
class FailoverResult:
    rto_s: float | None  # None: no alert came from b within the drill's bound
    rpo: RecoveryPoint
    sdk_switch_s: float | None  # a's death to the SDK producing to b
    events_sent: int
    sdk_dropped: int

    def as_json(self) -> dict:
        return {
            "rto_s": None if self.rto_s is None else round(self.rto_s, 2),
            "rpo_events": self.rpo.events,
            "rpo_s": round(self.rpo.seconds, 3),
            "rpo_acked_events": self.rpo.acked,
            "sdk_switch_s": None if self.sdk_switch_s is None else round(self.sdk_switch_s, 2),
            "events_sent": self.events_sent,
            "sdk_dropped": self.sdk_dropped,
        }


def event_times(bootstrap: str, topic: str, timeout: float = 120.0) -> dict[str, int]:
    """{event_id: event_time_ms} of every prediction in ``topic``, read to its end.

    A broker just started on its data leads its partitions only once it has loaded
    them: until then the read is refused as retriable, and tried again."""
    codec = Codec()
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    deadline = time.monotonic() + timeout
    while True:
        try:
            messages = read_to_end(settings, topic, timeout=timeout)
            break
        except KafkaException as exc:
            if exc.args[0].code() not in _NOT_YET or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    out = {}
    for message in messages:
        record = codec.decode(message.value()).record
        out[record["event_id"]] = record["event_time_ms"]
    return out


def failover_drill(
    workdir: Path,
    *,
    prefix: str = "drill.",
    rate_per_s: float = 100.0,
    failover_after_s: float = 3.0,
    alert_timeout_s: float = 120.0,
    say=print,
) -> FailoverResult:
    a, b = _stack.cluster(workdir / "a"), _stack.cluster(workdir / "b")
    receiver = WebhookReceiver().start()
    mirror = services = emitter = traffic = None
    try:
        say(f"cluster a {a.up()} | cluster b {b.up()}")
        for cluster in (a, b):
            _stack.apply_topics(cluster.bootstrap, prefix)
        mirror = Mirror(a.bootstrap, b.bootstrap, workdir / "mm2", prefix=prefix)
        mirror.up()
        say(f"MirrorMaker 2 a -> b running (pid {mirror.running_pid()})")
        clusters = f"{a.bootstrap};{b.bootstrap}"
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": a.bootstrap,
            "WK_KAFKA_CLUSTERS": clusters,
            "WK_FAILOVER_AFTER_S": str(failover_after_s),
            "WK_TOPIC_PREFIX": prefix,
        }
        services = _stack.start_services(env, receiver, workdir / "services")
        services.wait_healthy()
        emitter = Emitter(
            KafkaSettings(bootstrap_servers=a.bootstrap),
            clusters=[a.bootstrap, b.bootstrap],
            failover_after_s=failover_after_s,
            prefix=prefix,
            client_id="drill-traffic",
        )
        traffic = Traffic(emitter, [STEADY, VICTIM], rate_per_s).start()
        _steady(a.bootstrap, b.bootstrap, prefix, say)

        died = time.time()
        a.kill()
        traffic.degrade(VICTIM)
        say(f"cluster a killed (SIGKILL) after {traffic.sent} events; {VICTIM} now failing")
        switch = _wait_switch(emitter, b.bootstrap, died, alert_timeout_s)
        if switch is not None:
            say(f"SDK producing to b {switch:.1f} s after a's death")
        alerted = _stack.first_alert(receiver, VICTIM, died, alert_timeout_s)
        rto = None if alerted is None else alerted - died
        say(
            "no alert from b within the bound"
            if rto is None
            else f"first alert from b delivered {rto:.1f} s after a's death (RTO)"
        )
        traffic.stop()
        emitter.flush(30)
        survived = set(event_times(b.bootstrap, prefix + "predictions"))
        mirror.down()  # a coming back must not fill in what the disaster took
        a.up()
        acked = event_times(a.bootstrap, prefix + "predictions")
        rpo = recovery_point(acked, survived, int(died * 1000))
        say(
            f"RPO: {rpo.events} of the {rpo.acked} events a had acknowledged are missing on b "
            f"({rpo.seconds:.2f} s of data)"
        )
        return FailoverResult(rto, rpo, switch, traffic.sent, emitter.dropped)
    finally:
        if traffic is not None:
            traffic.stop()
        if emitter is not None:
            emitter.close(timeout=2)
        if services is not None:
            services.stop()
        if mirror is not None:
            mirror.down()
        receiver.stop()
        for cluster in (a, b):
            cluster.down()


def _steady(a: str, b: str, prefix: str, say) -> None:
    """Traffic is flowing, the slo service has committed, and b has caught up with a."""
    settings = KafkaSettings(bootstrap_servers=a)
    _stack.wait_until(
        lambda: _has_records(settings, prefix + "windows"), 90, "the first slo window on a"
    )
    wait_caught_up(a, b, [prefix + "predictions", prefix + "windows"], timeout=90)
    say("steady: windows flowing on a, b caught up")


def _has_records(settings: KafkaSettings, topic: str) -> bool:
    from ..devstack._offsets import end_offsets

    return sum(end_offsets(settings, topic).values()) > 0


def _wait_switch(emitter: Emitter, target: str, since: float, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if emitter.active_cluster == target:
            return time.time() - since
        time.sleep(0.05)
    return None
