"""bounce: a broker killed with SIGKILL under load, and restarted on its data.

Three runs of the workload in ``loadtest.bounce`` (12,000 predictions and their labels into
slo, cost, quality, drift, fairness and counter, all supervised):

1. ``single``: one broker, killed a third of the way in, restarted 5 s later;
2. ``three_brokers``: a three-node cluster (RF 3, min ISR 2), the leader of the input
   partition killed and restarted the same way;
3. ``rebootstrap`` (the peer): run 1 for slo alone with librdkafka's default
   ``metadata.recovery.strategy=rebootstrap``, the setting under which every engine used
   to hang for good (librdkafka #5456/#5511). Here the watchdog ends the stuck process and
   the supervisor restarts it: exact still, but slower; the ratio says how much.

``recovery_s`` is from the broker being back to the service processing events again;
``drained_s`` from the broker being back to every group having caught up with all that was
sent (the rest of the stream is paced alike in every run, so runs compare on it: a service
that processes a little and then hangs recovers "fast" but drains late).
The services' logs of each run are kept in ``loadtest/results/bounce-logs/<run>/``.
Writes ``loadtest/results/bounce.json``: per service of run 1 ``events_in``,
``events_counted``, ``recovery_s``, ``restarts``; the same under ``three_brokers`` and
``rebootstrap``; at top level ``all_exact`` (runs 1 and 2, every service) and
``max_recovery_s``.

The brokers are this benchmark's own (in a temporary folder), never the one ``make bench``
runs the others on: this one kills them.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

from watchkeeper import topic_admin
from watchkeeper.devstack import print_restart
from watchkeeper.devstack._offsets import end_offsets
from watchkeeper.local_cluster import LocalCluster
from watchkeeper.local_kafka import LocalKafka, ensure_jars
from watchkeeper.ports import free_port
from watchkeeper.settings import KafkaSettings

from .bounce import SERVICES, Fleet, Workload, bounce
from .harness import RESULTS, table, write_results

EVENTS = 12_000


def one_run(
    bootstrap: str,
    prefix: str,
    workdir: Path,
    kill,
    restart,
    names=SERVICES,
    send_s: float = 20.0,
    **env: str,
) -> dict:
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    topic_admin.apply(settings, prefix=prefix)
    workdir.mkdir(parents=True)
    fleet = Fleet(settings, prefix, workdir, on_restart=print_restart)
    try:
        fleet.start(names, **env)
        result = bounce(fleet, Workload(EVENTS), kill, restart, send_s=send_s, names=names)
    finally:
        fleet.stop()
        keep = RESULTS / "bounce-logs" / workdir.parent.name  # gitignored, for a look after
        shutil.rmtree(keep, ignore_errors=True)
        keep.mkdir(parents=True)
        for log in workdir.glob("*.log"):
            shutil.copy(log, keep / log.name)
    return {
        name: {
            "events_in": EVENTS,
            "events_counted": figures["counted"],
            "outputs": figures.get("outputs"),
            "recovery_s": figures["recovery_s"],
            "restarts": figures["restarts"],
        }
        for name, figures in result["services"].items()
    } | {"sdk": {"undelivered": result["undelivered"], "drained_s": round(result["drained_s"], 2)}}


def single_broker(home: Path, names=SERVICES, **env: str) -> dict:
    broker = LocalKafka(home=home / "kafka", port=free_port(), controller_port=free_port())
    broker.up(timeout=120)
    try:
        return one_run(
            broker.bootstrap,
            new_prefix(),
            home / "services",
            broker.kill,
            lambda: broker.wait_ready(broker.launch()),
            names,
            **env,
        )
    finally:
        broker.down()


def new_prefix() -> str:
    return f"b{uuid.uuid4().hex[:8]}."


def three_brokers(home: Path) -> dict:
    cluster = LocalCluster(home / "cluster")
    cluster.up()
    settings = KafkaSettings(bootstrap_servers=cluster.bootstrap)
    prefix = new_prefix()
    victim: list[int] = []

    def kill_leader() -> None:
        # Every prediction is keyed "fraud": one partition holds them all.
        topic = prefix + "predictions"
        (partition,) = [p for p, end in end_offsets(settings, topic).items() if end]
        victim.append(cluster.leader(topic, partition))
        cluster.kill(victim[0])

    try:
        return one_run(
            cluster.bootstrap,
            prefix,
            home / "services",
            kill_leader,
            lambda: cluster.start(victim[0]),
            # Two brokers keep serving through the outage, so nothing piles up: the stream
            # must still be flowing when the node is back for "processing again" to mean it.
            send_s=40.0,
        )
    finally:
        cluster.down()


def exact(run: dict) -> bool:
    return (
        all(
            s["events_counted"] == s["events_in"] and s["outputs"] in (None, 1)
            for name, s in run.items()
            if name != "sdk"
        )
        and run["sdk"]["undelivered"] == 0
    )


def run(bootstrap: str) -> None:
    del bootstrap  # this benchmark kills brokers: it starts its own
    ensure_jars(quiet=True)
    with tempfile.TemporaryDirectory(prefix="wk-bounce-") as tmp:
        home = Path(tmp)
        started = time.monotonic()
        single = single_broker(home / "single")
        cluster = three_brokers(home / "three")
        peer = single_broker(
            home / "peer", names=("slo",), WK_KAFKA_METADATA_RECOVERY="rebootstrap"
        )
        took = time.monotonic() - started
    recoveries = [
        s["recovery_s"]
        for r in (single, cluster)
        for name, s in r.items()
        if name != "sdk" and s["recovery_s"] is not None
    ]
    missing = [
        f"{label}/{name}"
        for label, r in (("single", single), ("three_brokers", cluster))
        for name, s in r.items()
        if name != "sdk" and s["recovery_s"] is None
    ]
    figures = {
        "services": {k: v for k, v in single.items() if k != "sdk"},
        "sdk_undelivered": single["sdk"]["undelivered"],
        "three_brokers": cluster,
        "rebootstrap": peer,
        "all_exact": exact(single) and exact(cluster),
        "max_recovery_s": round(max(recoveries), 2) if not missing else None,
        "not_recovered": missing,
        "drained_s": {
            "single": single["sdk"]["drained_s"],
            "three_brokers": cluster["sdk"]["drained_s"],
            "rebootstrap": peer["sdk"]["drained_s"],
        },
        # The peer against run 1: how much longer librdkafka's default takes to drain.
        "rebootstrap_vs_none_drained_ratio": round(
            peer["sdk"]["drained_s"] / single["sdk"]["drained_s"], 2
        ),
        "seconds": round(took, 1),
    }
    rows = [
        [label, name, s["events_in"], s["events_counted"], s["recovery_s"], s["restarts"]]
        for label, r in (("single", single), ("3 brokers", cluster), ("rebootstrap", peer))
        for name, s in r.items()
        if name != "sdk"
    ]
    print(
        table(
            "bounce: SIGKILL a broker a third of the way in, restart it 5 s later",
            ["run", "service", "events in", "counted", "recovery s", "restarts"],
            rows,
        )
    )
    print(f"all exact: {figures['all_exact']}   max recovery: {figures['max_recovery_s']} s")
    drained = figures["drained_s"]
    print(
        f"broker back -> all caught up: single {drained['single']} s, three brokers "
        f"{drained['three_brokers']} s, rebootstrap (slo alone) {drained['rebootstrap']} s "
        f"(x{figures['rebootstrap_vs_none_drained_ratio']})"
    )
    print(f"-> {write_results('bounce', figures)}")
