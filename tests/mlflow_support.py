"""Real MLflow servers for the registry interop tests, and a REST helper to seed and read
them that shares no code with services/registry/mlflow/rest.py (so the tests do not check
the sync with itself).

conftest's ``mlflow_servers`` fixture is session-scoped: it installs MLflow into .cache
once (``make test`` has already done that, outside pytest's per-test timeout) and stops
every server it started; each test asks it for fresh servers, so tests never see each
other's models.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from watchkeeper.devstack.mlflow_server import MlflowServer, install


class MlflowServers:
    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self.started: list[MlflowServer] = []

    def new(self) -> str:
        return self.many(1)[0]

    def many(self, count: int) -> list[str]:
        """``count`` fresh servers, started side by side (each takes ~15 s to come up)."""
        servers = [MlflowServer(home=self._tmp.mktemp("mlflow")) for _ in range(count)]
        self.started.extend(servers)
        for server in servers:
            server.launch()
        return [server.wait_ready() for server in servers]

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


def mlflow_servers_for_session(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[MlflowServers]:
    """The body of conftest's session fixture ``mlflow_servers``."""
    install()
    servers = MlflowServers(tmp_path_factory)
    try:
        yield servers
    finally:
        servers.stop_all()


def _pairs(d: dict) -> list[dict]:
    return [{"key": k, "value": str(v)} for k, v in d.items()]


class Mlflow:
    """Seeds and reads one MLflow server through its REST API."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=f"{url}/api/2.0/mlflow", timeout=30)

    def _post(self, path: str, **body) -> dict:
        response = self.http.post(path, json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def _get(self, path: str, **params) -> dict:
        response = self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    # -- seeding ---------------------------------------------------------------------

    def model(self, name: str, description: str = "", tags: dict | None = None) -> None:
        self._post(
            "registered-models/create", name=name, description=description, tags=_pairs(tags or {})
        )

    def run(
        self, params: dict, metrics: list[tuple[str, float, int]], tags: dict | None = None
    ) -> str:
        """A finished run; ``metrics`` are (key, value, step), several steps per key allowed."""
        found = self.http.get("experiments/get-by-name", params={"experiment_name": "seed"})
        if found.status_code == 200:
            experiment = found.json()["experiment"]["experiment_id"]
        else:
            experiment = self._post("experiments/create", name="seed")["experiment_id"]
        run = self._post(
            "runs/create",
            experiment_id=experiment,
            start_time=1_700_000_000_000,
            tags=_pairs(tags or {}),
        )
        run_id = run["run"]["info"]["run_id"]
        self._post(
            "runs/log-batch",
            run_id=run_id,
            params=_pairs(params),
            metrics=[
                {"key": k, "value": v, "timestamp": 1_700_000_000_000 + step, "step": step}
                for k, v, step in metrics
            ],
        )
        self._post("runs/update", run_id=run_id, status="FINISHED", end_time=1_700_000_001_000)
        return run_id

    def version(
        self,
        name: str,
        source: str,
        run_id: str = "",
        tags: dict | None = None,
        description: str = "",
    ) -> str:
        created = self._post(
            "model-versions/create",
            name=name,
            source=source,
            run_id=run_id,
            tags=_pairs(tags or {}),
            description=description,
        )
        return created["model_version"]["version"]

    def alias(self, name: str, alias: str, version: str) -> None:
        self._post("registered-models/alias", name=name, alias=alias, version=version)

    def tag_version(self, name: str, version: str, key: str, value: str) -> None:
        self._post("model-versions/set-tag", name=name, version=version, key=key, value=value)

    def log_metric(self, run_id: str, key: str, value: float, step: int) -> None:
        self._post("runs/log-metric", run_id=run_id, key=key, value=value,
                   timestamp=1_700_000_000_000 + step, step=step)  # fmt: skip

    # -- reading ---------------------------------------------------------------------

    def state(self) -> dict:
        """Everything the sync touches, keyed by name and by MLflow version number:
        {name: {description, tags, aliases: {alias: number}, versions: {number: {...}}}}."""
        models = self._get("registered-models/search", max_results=1000)
        out = {}
        for listed in models.get("registered_models", []):
            name = listed["name"]
            model = self._get("registered-models/get", name=name)["registered_model"]
            found = self._get("model-versions/search", filter=f"name='{name}'")
            versions = {}
            for v in found.get("model_versions", []):
                run = {"params": {}, "metrics": {}, "tags": {}, "experiment": None}
                if v.get("run_id"):
                    data = self._get("runs/get", run_id=v["run_id"])["run"]
                    run = {
                        "params": {p["key"]: p["value"] for p in data["data"].get("params", [])},
                        "metrics": {m["key"]: m["value"] for m in data["data"].get("metrics", [])},
                        "tags": {t["key"]: t["value"] for t in data["data"].get("tags", [])},
                        "experiment": data["info"]["experiment_id"],
                        "status": data["info"]["status"],
                    }
                versions[v["version"]] = {
                    "source": v["source"],
                    "run_id": v.get("run_id", ""),
                    "description": v.get("description", ""),
                    "tags": {t["key"]: t["value"] for t in v.get("tags", [])},
                    "run": run,
                }
            out[name] = {
                "description": model.get("description", ""),
                "tags": {t["key"]: t["value"] for t in model.get("tags", [])},
                "aliases": {a["alias"]: a["version"] for a in model.get("aliases", [])},
                "versions": versions,
            }
        return out

    def run_count(self) -> int:
        experiments = self._post("experiments/search", max_results=1000).get("experiments", [])
        ids = [e["experiment_id"] for e in experiments]
        runs = self._post("runs/search", experiment_ids=ids, max_results=1000).get("runs", [])
        return len(runs)
