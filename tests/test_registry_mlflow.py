"""MLflow interop of the registry: real ``mlflow server`` processes (sqlite) on one side,
the real registry service (on the session's Kafka) on the other.

Seed an MLflow server over its REST API, import it, import again (nothing changes), export
our models to a fresh server and back to the source one, export again (nothing new), and
import the export into a second registry; plus an unreachable MLflow or registry, a name
MLflow allows and we refuse, and a gated alias that a writer token may not force.
"""

from __future__ import annotations

import uuid

import pytest

from services.registry.mlflow import MlflowUnreachable, export_to, import_from
from services.registry.mlflow import cli as mlflow_cli
from watchkeeper import topic_admin
from watchkeeper.ports import free_port

from .mlflow_support import Mlflow
from .registry_support import TOKENS, client, start_registry

pytestmark = pytest.mark.kafka


@pytest.fixture
def registry_for_test(start_service, kafka_settings, tmp_path):
    """Starts a fresh, empty registry service (topics of its own) per call; returns an
    admin client, since importing a gated alias (champion) is a forced move."""
    started = []

    def new():
        prefix = f"t{uuid.uuid4().hex[:10]}."
        topic_admin.apply(kafka_settings, prefix=prefix)
        folder = tmp_path / prefix.rstrip(".")
        folder.mkdir()
        service = start_registry(start_service, prefix, folder)
        started.append((prefix, service))
        rc = client(service, "admin")
        rc.service = service
        return rc

    yield new
    for prefix, service in started:
        service.stop()
        topic_admin.delete_prefixed(kafka_settings, prefix)


def seed(url: str) -> None:
    """Two models we take, one whose name MLflow allows but the registry refuses."""
    mlflow = Mlflow(url)
    mlflow.model(
        "churn", "Churn classifier", {"domain": "retention", "watchkeeper.owner_team": "growth"}
    )
    run1 = mlflow.run(
        {"lr": "0.1", "depth": "6"},
        [("auc", 0.71, 0), ("auc", 0.74, 1), ("f1", 0.6, 0)],
        {"mlflow.source.git.commit": "abc123"},
    )
    run2 = mlflow.run({"lr": "0.05", "depth": "8"}, [("auc", 0.81, 0)])
    assert mlflow.version("churn", "s3://models/churn/1", run1, {"stage": "old"}, "first") == "1"
    assert mlflow.version("churn", "s3://models/churn/2", run2) == "2"
    assert mlflow.version("churn", "s3://models/churn/3") == "3"  # no run
    mlflow.alias("churn", "champion", "2")
    mlflow.alias("churn", "challenger", "3")
    mlflow.model("fraud")
    run3 = mlflow.run({"threshold": "0.7"}, [("precision", 0.92, 0), ("recall", 0.65, 0)])
    assert mlflow.version("fraud", "gs://models/fraud/1", run3) == "1"
    mlflow.alias("fraud", "champion", "1")
    mlflow.model("fraud detector")  # a space: fine for MLflow, not a registry name
    mlflow.version("fraud detector", "s3://models/fd/1")


def histories(registry, models: dict[str, list[str]]) -> dict:
    out = {}
    for model, versions in models.items():
        out[model] = registry.history("model", model)["events"]
        for version in versions:
            out[f"{model}:{version}"] = registry.history("version", f"{model}:{version}")["events"]
    return out


IMPORTED = [
    "model churn",
    "version churn:1",
    "version churn:2",
    "version churn:3",
    "alias churn@challenger -> 3",
    "alias churn@champion -> 2",
    "model fraud",
    "version fraud:1",
    "alias fraud@champion -> 1",
]


def test_import_then_import_again_changes_nothing(mlflow_servers, registry_for_test):
    url = mlflow_servers.new()
    seed(url)
    registry = registry_for_test()

    summary = import_from(url, registry)

    assert summary.created == IMPORTED
    assert summary.updated == []
    assert len(summary.skipped) == 1
    item, reason = summary.skipped[0]
    assert item == "model fraud detector"
    assert reason.startswith("registry refused it: 400 ")
    assert sorted(m["name"] for m in registry.list_models()["models"]) == ["churn", "fraud"]
    churn = registry.get_model("churn")
    assert (churn["description"], churn["owner_team"], churn["tags"], churn["aliases"]) == (
        "Churn classifier",
        "growth",
        {"domain": "retention"},
        {"champion": "2", "challenger": "3"},
    )
    fields = ("artifact_uri", "params", "metrics", "tags", "status", "description", "code_commit")
    got = {
        v["version"]: {f: v[f] for f in fields} for v in registry.list_versions("churn")["versions"]
    }
    assert got == {
        "1": {
            "artifact_uri": "s3://models/churn/1",
            "params": {"lr": "0.1", "depth": "6"},
            "metrics": {"auc": 0.74, "f1": 0.6},  # the latest step of auc
            "tags": {"stage": "old"},
            "status": "ready",
            "description": "first",
            "code_commit": "abc123",
        },
        "2": {
            "artifact_uri": "s3://models/churn/2",
            "params": {"lr": "0.05", "depth": "8"},
            "metrics": {"auc": 0.81},
            "tags": {},
            "status": "ready",
            "description": "",
            "code_commit": "",
        },
        "3": {
            "artifact_uri": "s3://models/churn/3",
            "params": {},
            "metrics": {},
            "tags": {},
            "status": "ready",
            "description": "",
            "code_commit": "",
        },
    }
    seeded = Mlflow(url).state()
    assert (
        registry.get_version("churn", "1")["run_id"] == seeded["churn"]["versions"]["1"]["run_id"]
    )
    assert registry.get_version("churn", "3")["run_id"] == ""
    fraud = registry.get_version("fraud", "1")
    assert (fraud["params"], fraud["metrics"]) == (
        {"threshold": "0.7"},
        {"precision": 0.92, "recall": 0.65},
    )
    assert registry.get_model("fraud")["aliases"] == {"champion": "1"}
    moves = [e for e in registry.history("model", "churn")["events"] if e["type"] == "alias.set"]
    assert [(e["data"]["alias"], e["data"]["forced"], e["audit"]["reason"]) for e in moves] == [
        ("challenger", False, "imported from mlflow"),  # not gated: force changes nothing
        ("champion", True, "imported from mlflow"),
    ]

    before = histories(registry, {"churn": ["1", "2", "3"], "fraud": ["1"]})
    again = import_from(url, registry)
    assert (again.changes, again.created, again.updated) == (0, [], [])
    assert again.unchanged == 2 + 4 + 3  # models, versions, aliases
    assert [item for item, _ in again.skipped] == ["model fraud detector"]
    assert histories(registry, {"churn": ["1", "2", "3"], "fraud": ["1"]}) == before

    # What MLflow changed since: a version's tag and a newer metric of its run.
    mlflow = Mlflow(url)
    mlflow.tag_version("churn", "2", "reviewed", "yes")
    mlflow.log_metric(seeded["churn"]["versions"]["2"]["run_id"], "auc", 0.83, step=5)
    third = import_from(url, registry)
    assert (third.created, third.updated) == ([], ["version churn:2 (metrics, tags)"])
    churn2 = registry.get_version("churn", "2")
    assert (churn2["tags"], churn2["metrics"]) == ({"reviewed": "yes"}, {"auc": 0.83})
    assert import_from(url, registry).changes == 0


def add_native_model(registry) -> None:
    """A model born in our registry: version strings MLflow could not have made."""
    registry.register_dataset("clicks", "3", uri="s3://data/clicks/3")
    registry.create_model(
        "ranker", description="Search ranker", owner_team="search", tags={"tier": "1"}
    )
    registry.register_version(
        "ranker",
        "2024.06.1",
        artifact_uri="s3://models/ranker/2024.06.1",
        params={"k": "10"},
        metrics={"ndcg": 0.42},
        tags={"note": "first"},
        code_commit="deadbeef",
        flavor="onnx",
        training_datasets=[{"name": "clicks", "version": "3"}],
        description="June",
    )
    registry.register_version("ranker", "2024.07.0", params={"k": "20"}, metrics={"ndcg": 0.47})
    registry.set_alias("ranker", "champion", "2024.06.1", reason="test", force=True)


def test_export_round_trips_and_exporting_again_creates_nothing(mlflow_servers, registry_for_test):
    source, target = mlflow_servers.many(2)
    seed(source)
    registry = registry_for_test()
    import_from(source, registry)
    add_native_model(registry)

    summary = export_to(target, registry)

    assert summary.skipped == []
    assert summary.updated == []
    assert len([c for c in summary.created if c.startswith("run ")]) == 6
    held = Mlflow(target).state()
    assert sorted(held) == ["churn", "fraud", "ranker"]
    by_ours = {
        name: {v["tags"]["watchkeeper.version"]: (n, v) for n, v in m["versions"].items()}
        for name, m in held.items()
    }
    assert sorted(by_ours["churn"]) == ["1", "2", "3"]
    _, churn1 = by_ours["churn"]["1"]
    assert churn1["source"] == "s3://models/churn/1"
    assert churn1["tags"] == {"stage": "old", "watchkeeper.version": "1"}
    assert churn1["description"] == "first"
    assert churn1["run"]["params"] == {"lr": "0.1", "depth": "6"}
    assert churn1["run"]["metrics"] == {"auc": 0.74, "f1": 0.6}
    assert churn1["run"]["tags"]["mlflow.source.git.commit"] == "abc123"
    assert churn1["run"]["tags"]["watchkeeper.model"] == "churn"
    assert churn1["run"]["status"] == "FINISHED"
    assert held["churn"]["aliases"] == {
        "champion": by_ours["churn"]["2"][0],
        "challenger": by_ours["churn"]["3"][0],
    }
    assert held["churn"]["tags"] == {"domain": "retention", "watchkeeper.owner_team": "growth"}
    assert held["churn"]["description"] == "Churn classifier"
    assert by_ours["churn"]["3"][1]["run"]["params"] == {}
    ranker = held["ranker"]
    assert ranker["tags"] == {"tier": "1", "watchkeeper.owner_team": "search"}
    _, june = by_ours["ranker"]["2024.06.1"]
    assert june["tags"] == {
        "note": "first",
        "watchkeeper.version": "2024.06.1",
        "watchkeeper.flavor": "onnx",
        "watchkeeper.training_datasets": '[{"name": "clicks", "version": "3"}]',
    }
    assert (june["run"]["params"], june["run"]["metrics"]) == ({"k": "10"}, {"ndcg": 0.42})
    _, july = by_ours["ranker"]["2024.07.0"]
    assert july["source"].endswith("/artifacts")  # no artifact_uri: the run's artifacts
    assert ranker["aliases"] == {"champion": by_ours["ranker"]["2024.06.1"][0]}
    runs = Mlflow(target).run_count()

    again = export_to(target, registry)
    assert (again.changes, again.skipped) == (0, [])
    assert Mlflow(target).state() == held
    assert Mlflow(target).run_count() == runs == 6

    # Our metrics and tags move on; the next export brings MLflow along, once.
    registry.update_version("ranker", "2024.06.1", metrics={"ndcg": 0.44}, tags={"ab": "on"})
    moved = export_to(target, registry)
    assert (moved.created, moved.updated) == (
        [],
        ["version ranker:2024.06.1 (tag ab, metric ndcg)"],
    )
    june = Mlflow(target).state()["ranker"]["versions"][by_ours["ranker"]["2024.06.1"][0]]
    assert (june["tags"]["ab"], june["run"]["metrics"]) == ("on", {"ndcg": 0.44})
    assert export_to(target, registry).changes == 0

    # Back to the server it came from: only the native model is new there.
    back = export_to(source, registry)
    assert [c for c in back.created if not c.startswith("run ")] == [
        "model ranker",
        "version ranker:2024.06.1 (mlflow version 1)",
        "version ranker:2024.07.0 (mlflow version 2)",
        "alias ranker@champion -> mlflow version 1",
    ]
    assert back.updated == []
    assert sorted(Mlflow(source).state()["churn"]["versions"]) == ["1", "2", "3"]
    assert export_to(source, registry).changes == 0

    # And the export reads back as what we had (the runs are the target's own).
    mirror = registry_for_test()
    mirror.register_dataset("clicks", "3", uri="s3://data/clicks/3")
    assert import_from(target, mirror).skipped == []
    for model in ("churn", "fraud", "ranker"):
        for ours in registry.list_versions(model)["versions"]:
            theirs = mirror.get_version(model, ours["version"])
            for field in (
                "params",
                "metrics",
                "tags",
                "description",
                "code_commit",
                "flavor",
                "training_datasets",
            ):
                # A field never sent is absent, as the registry keeps what it was given.
                got, want = theirs.get(field) or None, ours.get(field) or None
                assert got == want, (model, ours["version"], field)
        assert mirror.get_model(model)["aliases"] == registry.get_model(model)["aliases"]


def test_unreachable_mlflow_is_a_clear_error(registry_for_test, capsys):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    registry = registry_for_test()
    with pytest.raises(MlflowUnreachable, match=f"mlflow at {url} is unreachable"):
        import_from(url, registry)
    with pytest.raises(MlflowUnreachable):
        export_to(url, registry)

    where = ["--registry", registry.service.url, "--token", TOKENS["admin"]]
    for verb in (mlflow_cli.cli_import, mlflow_cli.cli_export):
        assert verb([url, *where]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: mlflow at {url} is unreachable: ConnectError")
        assert "Traceback" not in err


def test_cli_summary_scopes_and_an_unreachable_registry(
    mlflow_servers, registry_for_test, monkeypatch, capsys
):
    url = mlflow_servers.new()
    mlflow = Mlflow(url)
    mlflow.model("solo", "one model")
    assert mlflow.version("solo", "s3://models/solo/1") == "1"
    mlflow.alias("solo", "champion", "1")
    registry = registry_for_test()
    monkeypatch.setenv("WK_REGISTRY_URL", registry.service.url)

    # A writer may import, but not force the gated champion: reported, not a failure.
    monkeypatch.setenv("WK_REGISTRY_TOKEN", TOKENS["writer"])
    assert mlflow_cli.main(["import-mlflow", url]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "import: 2 created, 0 updated, 0 unchanged, 1 skipped",
        "  created model solo",
        "  created version solo:1",
        "  skipped alias solo@champion: registry refused it: 403 forcing a gated alias move "
        "needs the admin scope",
    ]
    monkeypatch.setenv("WK_REGISTRY_TOKEN", TOKENS["admin"])
    assert mlflow_cli.main(["import-mlflow", url]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "import: 1 created, 0 updated, 2 unchanged, 0 skipped",
        "  created alias solo@champion -> 1",
    ]
    assert mlflow_cli.main(["export-mlflow", url]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "export: 0 created, 0 updated, 3 unchanged, 0 skipped",
    ]

    # A reader reads: with nothing new that is a clean no-op; with something new, its
    # first write is refused as a whole (exit 1, the registry's reason, no traceback).
    assert mlflow_cli.cli_import([url, "--token", TOKENS["reader"]]) == 0
    assert capsys.readouterr().out.startswith("import: 0 created, 0 updated, 3 unchanged")
    mlflow.model("duo")
    assert mlflow_cli.cli_import([url, "--token", TOKENS["reader"]]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: registry at {registry.service.url}: 403")
    assert "Traceback" not in err

    gone = f"http://127.0.0.1:{free_port()}"
    assert mlflow_cli.cli_import([url, "--registry", gone]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: registry at {gone}: 503")
    assert "unreachable" in err and "Traceback" not in err

    monkeypatch.delenv("WK_REGISTRY_URL")
    assert mlflow_cli.cli_import([url]) == 2
    assert "needs --registry URL or WK_REGISTRY_URL" in capsys.readouterr().err
