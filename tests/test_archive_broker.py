"""The archive while its only broker is killed with SIGKILL and restarted on its data: the
flushes wait (a commit refused meanwhile is covered by the next one), and afterwards the
tiers hold exactly the topics' records, each once."""

from __future__ import annotations

import time
import uuid

import pytest

from watchkeeper import topic_admin
from watchkeeper.devstack import ServiceProcess
from watchkeeper.settings import KafkaSettings
from watchkeeper.tiering.store import Store

from .archive_support import assert_exact, produce, wait_archived
from .helpers import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.faults]
TOPICS = ("predictions", "feedback", "telemetry")


def test_a_broker_killed_and_restarted_loses_and_doubles_nothing(own_broker, tmp_path) -> None:
    settings = KafkaSettings(bootstrap_servers=own_broker.bootstrap)
    prefix = f"t{uuid.uuid4().hex[:10]}."
    topic_admin.apply(settings, prefix=prefix)
    root = tmp_path / "tiers"
    service = ServiceProcess(
        "services.archive",
        {"KAFKA_BOOTSTRAP_SERVERS": own_broker.bootstrap, "WK_TOPIC_PREFIX": prefix,
         "WK_ARCHIVE_ROOT": str(root), "WK_ARCHIVE_FLUSH_RECORDS": "100",
         "WK_ARCHIVE_FLUSH_S": "0.3", "WK_INSTANCE_ID": "a"},
        tmp_path / "archive.log",
        restart=True,  # as compose and Kubernetes run it: an exit is restarted
    )  # fmt: skip
    try:
        service.wait_healthy()
        now = int(time.time() * 1000)
        for topic in TOPICS:
            produce(settings, prefix, topic, 1000, now)
        store = Store.open(str(root))
        wait_for(lambda: len(store.parts()) >= 5, 60, "the first flushes")
        own_broker.kill()
        time.sleep(3)  # the outage itself: what a broker restart takes, not a synchronisation
        own_broker.wait_ready(own_broker.launch())
        for topic in TOPICS:
            produce(settings, prefix, topic, 500, now)
        wait_archived(settings, prefix, timeout=180)
        for topic in TOPICS:
            assert assert_exact(settings, prefix, str(root), topic) == 1500
        print(f"archive restarts during the outage: {len(service.restarts)}")
    finally:
        service.stop()
        topic_admin.delete_prefixed(settings, prefix)
