"""Backup of a running system and its restore into a second, fresh cluster: the registry,
rollout and router, started again on the restored cluster, answer with identical state
(registry, routing, silences, incidents) and take new writes."""

from __future__ import annotations

import time

import pytest

from watchkeeper import backup
from watchkeeper.backup.creator import is_state
from watchkeeper.devstack._offsets import wait_caught_up
from watchkeeper.settings import KafkaSettings
from watchkeeper.topics import TOPICS

from .backup_support import SecondCluster
from .helpers import wait_for
from .registry_support import client, start_registry
from .rollout_support import api, registry_with, start_rollout
from .test_router_support import Alerts, api_call, receiver, routing_file, start_router

pytestmark = pytest.mark.kafka
__all__ = ["receiver"]

# The escalation's second step, a second after the first, opens an incident.
POLICY = """
route:
  receiver: team
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 1h
  repeat_interval: 4h
  escalation: page
escalation_policies:
  - name: page
    ack_timeout: 1h
    steps:
      - notify: [primary]
        wait: 1s
      - open_incident: true
        notify: [commander]
receivers:
  - name: team
    webhook_configs: [{url: "${RX}/team"}]
  - name: primary
    webhook_configs: [{url: "${RX}/primary"}]
  - name: commander
    webhook_configs: [{url: "${RX}/commander"}]
"""
SILENCE = {"matchers": ['model="recsys"'], "duration": "2h", "comment": "maintenance"}


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> KafkaSettings:
    with SecondCluster(tmp_path_factory.mktemp("target-kafka")) as bootstrap:
        yield KafkaSettings(bootstrap_servers=bootstrap)


def router_state(router) -> dict:
    def get(path):
        answer = api_call(router.api, "GET", path, "reader")
        assert answer.status_code == 200, answer.text
        return answer.json()

    return {
        "silences": get("/api/v1/silences")["silences"],
        "incidents": get("/api/v1/incidents")["incidents"],
        "escalations": get("/api/v1/escalations")["escalations"],
    }


def control_state(registry, rollout) -> dict:
    return {
        "registry": api(registry, "admin").get("/api/v1/dump"),
        "rollout": api(rollout, "admin").get("/api/v1/dump"),
        "routing": api(rollout, "reader").get("/api/v1/routing"),
        "champion": client(registry, "reader").get_alias("fraud", "champion"),
    }


def start_system(start_service, prefix, tmp_path, receiver, bootstrap, fresh: bool):
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    if fresh:
        registry = registry_with(start_service, prefix, tmp_path, "fraud", "1", "2")
    else:
        registry = start_registry(start_service, prefix, tmp_path, **env)
    rollout = start_rollout(start_service, prefix, registry, **env)
    router = start_router(start_service, prefix, routing_file(tmp_path, POLICY), receiver, **env)
    return registry, rollout, router


def test_a_running_system_restored_into_a_fresh_cluster_answers_the_same_and_resumes(
    start_service, kafka_settings, kafka_bootstrap, prefix, target, receiver, tmp_path
):
    registry, rollout, router = start_system(
        start_service, prefix, tmp_path, receiver, kafka_bootstrap, fresh=True
    )
    # State people act on: a model with versions and an alias (registry_with), a
    # blue-green rollout switched to green (routing), a silence, an acked incident.
    spec = {"model": "fraud", "strategy": "bluegreen", "baseline": "1", "candidate": "2",
            "keep_ready_s": 3600}  # fmt: skip
    rid = api(rollout).write("POST", "/api/v1/rollouts", spec)["id"]
    api(rollout).write("POST", f"/api/v1/rollouts/{rid}/switch", {})
    created = api_call(router.api, "POST", "/api/v1/silences", "admin", json=SILENCE)
    assert created.status_code == 201, created.text
    Alerts(kafka_settings, prefix).fire("fp-1", model="fraud")
    (page,) = receiver.wait_for(1, "/commander", timeout=30)
    incident_id = page.headers["watchkeeper-incident"]
    acked = api_call(router.api, "POST", "/api/v1/ack", "oncall", json={"incident": incident_id})
    assert acked.status_code == 200, acked.text
    wait_for(
        lambda: router_state(router)["escalations"][0]["status"] == "acknowledged",
        30,
        "the ack reflected in the escalation",
    )
    wait_for(
        lambda: (
            client(registry, "reader").get_alias("fraud", "champion")["version"]["version"] == "2"
        ),
        30,
        "the switch moved the alias",
    )
    before = {**control_state(registry, rollout), **router_state(router)}
    assert before["incidents"][0]["id"] == incident_id and before["silences"]

    pages = (len(receiver.requests("/commander")), len(receiver.requests("/team")))
    archive = tmp_path / "system.wkb"
    started = time.monotonic()
    manifest = backup.create(kafka_settings, archive, prefix=prefix)  # services still running
    backup_s = time.monotonic() - started
    state_topics = {s.name for s in TOPICS if is_state(s)}
    assert {t.name for t in manifest.topics} == state_topics
    assert {c.path for c in manifest.configs} >= {"router.yaml", "rollouts/fraud.yaml"}
    by_name = {t.name: t for t in manifest.topics}
    assert by_name["registry-history"].records > 0 and by_name["silences"].records == 1

    started = time.monotonic()
    report = backup.restore(target, archive)  # the archive's own prefix
    restore_s = time.monotonic() - started
    print(
        f"\nbackup {backup_s:.2f} s ({manifest_records(manifest)} records, "
        f"{archive.stat().st_size} bytes); restore {restore_s:.2f} s "
        f"(verify {report.verify_s:.2f} s, then {report.restore_s:.2f} s of which topics "
        f"created {report.create_s:.2f} s)"
    )
    assert report.prefix == prefix
    assert report.expected == manifest_records(manifest) == report.written
    assert {r.action for r in report.partitions} <= {"written", "empty"}

    for service in (router, rollout, registry):
        assert service.stop() == 0
    registry2, rollout2, router2 = start_system(
        start_service, prefix, tmp_path, receiver, target.bootstrap_servers, fresh=False
    )
    after = {**control_state(registry2, rollout2), **router_state(router2)}
    assert after == before
    # The router replays the restored alerts and finds them in its restored notification
    # log: once it has handled every one (its bookmark at the end), nobody was paged again.
    wait_caught_up(target, {f"{prefix}router": [f"{prefix}alerts"]}, timeout=60)
    assert (len(receiver.requests("/commander")), len(receiver.requests("/team"))) == pages

    # They resume: each takes a new write on the restored cluster.
    client(registry2).register_version("fraud", "3", metrics={"auc": 0.91})
    versions = client(registry2, "reader").list_versions("fraud")
    assert sorted(v["version"] for v in versions["versions"]) == ["1", "2", "3"]
    rolled = api(rollout2).write("POST", f"/api/v1/rollouts/{rid}/rollback", {"reason": "drill"})
    assert rolled["version"] == "1"
    second = {**SILENCE, "matchers": ['model="ads"']}
    assert (
        api_call(router2.api, "POST", "/api/v1/silences", "admin", json=second).status_code == 201
    )
    assert len(router_state(router2)["silences"]) == 2


def manifest_records(manifest) -> int:
    return sum(t.records for t in manifest.topics)
