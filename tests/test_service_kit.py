"""Every service has the same shape: a spec run by ``run(spec)``, a command line that
never touches the network for ``--help``, configuration errors as exit 2, domain code free
of Kafka, and a services table in the docs that says what the specs say."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import services
from services import catalog

ROOT = Path(__file__).resolve().parent.parent
KAFKA_MODULES = ("confluent_kafka", "faust", "aiokafka")
# Modules whose job is to talk to Kafka (the router runs its own loop; views of compacted
# topics that a spec builds, importing them only to run); everything else
# in a service is domain code.
WIRING = {
    "__main__",
    "router.app",
    "router.kafka_io",
    "registry.app",
    "registry.feeds",
    "rollout.app",
    "rollout.feeds",
    "retrain.app",
    "retrain.feeds",
    "replication.app",
    "ingest.app",
    "ingest.sink",
    "archive.app",
    "archive.rebalance",
    "quality.gateview",
    "drift.reference_store",
    "drift.reference_cli",
}
SHIPPED = {
    "archive": "deploy/archive.yaml",
    "slo": "deploy/slo-rules.yaml",
    "cost": "deploy/cost.yaml",
    "quality": "deploy/quality.yaml",
    "fairness": "deploy/fairness.yaml",
    "drift": "deploy/drift.yaml",
    "router": "deploy/router.yaml",
    "registry": "deploy/registry.yaml",
    "retrain": "deploy/retrain.yaml",
}
# A guard in the child: any Python socket, or a Kafka client module, is a failure.
NO_NETWORK = """
import sys
def hook(event, args):
    if event.startswith("socket.") and event != "socket.getaddrinfo":
        raise SystemExit(f"opened a socket: {event} {args}")
sys.addaudithook(hook)
import runpy
sys.argv = [sys.argv[0], *sys.argv[1:]]
try:
    runpy.run_module(SERVICE_MODULE, run_name="__main__", alter_sys=True)
finally:
    loaded = [m for m in ("confluent_kafka", "faust", "aiokafka") if m in sys.modules]
    print("KAFKA_MODULES_LOADED", loaded, file=sys.stderr)
"""


def run_service(name: str, *args: str, env: dict[str, str] | None = None, guard: bool = True):
    code = NO_NETWORK.replace("SERVICE_MODULE", repr(f"services.{name}")) if guard else None
    command = (
        [sys.executable, "-c", code, *args]
        if guard
        else [sys.executable, "-m", f"services.{name}", *args]
    )
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("WK_")}
    # A broker nobody listens on: if anything did dial Kafka, it would hang, not pass.
    child_env |= {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", **(env or {})}
    return subprocess.run(
        command, cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("name", services.NAMES)
def test_help_exits_0_without_a_socket(name: str, record_property) -> None:
    started = time.monotonic()
    done = run_service(name, "--help")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert f"watchkeeper {name}:" in done.stdout
    assert "reads:" in done.stdout and "--check-config" in done.stdout
    assert "opened a socket" not in done.stderr
    assert "KAFKA_MODULES_LOADED []" in done.stderr  # nothing that could dial a broker
    # How long it took is a figure, not a verdict (this machine is shared): it is recorded
    # and printed; a --help that waited on a network would not return at all (the broker
    # address above has no listener).
    record_property("help_seconds", round(elapsed, 3))
    print(f"{name} --help took {elapsed:.2f} s")


@pytest.mark.parametrize("name", services.NAMES)
def test_version(name: str) -> None:
    done = run_service(name, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"watchkeeper {name} ")


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_check_config_accepts_the_shipped_file(name: str) -> None:
    done = run_service(name, "--check-config", SHIPPED[name])
    assert done.returncode == 0, done.stderr
    assert f"{SHIPPED[name]}: ok" in done.stdout
    assert "opened a socket" not in done.stderr
    assert "KAFKA_MODULES_LOADED []" in done.stderr


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_check_config_rejects_a_broken_file_with_its_line(name: str, tmp_path: Path) -> None:
    shipped = (ROOT / SHIPPED[name]).read_text()
    broken = tmp_path / Path(SHIPPED[name]).name
    # The shipped file with one key no service knows, at the end: a precise line to name.
    lines = shipped.rstrip("\n").split("\n")
    broken.write_text("\n".join([*lines, "no_such_key_anywhere: 1"]) + "\n")
    done = run_service(name, "--check-config", str(broken))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"{broken}:{len(lines) + 1}:" in done.stderr, done.stderr


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_check_config_names_a_file_that_is_not_yaml(name: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1, 2\n")
    done = run_service(name, "--check-config", str(broken))
    assert done.returncode == 2
    assert f"{broken}:" in done.stderr and "not valid YAML" in done.stderr


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_check_config_names_a_missing_file_and_binary_junk(name: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    done = run_service(name, "--check-config", str(missing))
    assert done.returncode == 2
    assert f"{missing}: cannot read" in done.stderr and "Traceback" not in done.stderr
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(b"\x00\xff\xfe" * 100)
    done = run_service(name, "--check-config", str(junk))
    assert done.returncode == 2, done.stderr
    assert str(junk) in done.stderr and "Traceback" not in done.stderr


def test_a_service_without_a_file_says_so() -> None:
    done = run_service("counter", "--check-config", "deploy/slo-rules.yaml")
    assert done.returncode == 2
    assert "takes no configuration file" in done.stderr


BAD_ENV = {
    "counter": "WK_COUNTER_MAX_SERIES",
    "slo": "WK_SLO_WINDOW_S",
    "cost": "WK_COST_IDLE_S",
    "quality": "WK_QUALITY_GRACE_S",
    "drift": "WK_DRIFT_MAX_PENDING",
    "fairness": "WK_FAIRNESS_GRACE_S",
    "router": "WK_ROUTER_MAX_IN_FLIGHT",
    "registry": "WK_REGISTRY_MAX_BODY_BYTES",
    "rollout": "WK_ROLLOUT_MAX_BODY_BYTES",
    "retrain": "WK_RETRAIN_MAX_BODY_BYTES",
    "replication": "WK_REPLICATION_POLL_S",
    "ingest": "WK_INGEST_MAX_EVENTS",
    "archive": "WK_ARCHIVE_FLUSH_S",
}


@pytest.mark.parametrize("name", services.NAMES)
def test_a_bad_environment_value_exits_2_naming_the_variable(name: str) -> None:
    variable = BAD_ENV[name]
    done = run_service(name, env={variable: "not-a-number"})
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert variable in done.stderr
    assert "Traceback" not in done.stderr
    assert "opened a socket" not in done.stderr
    assert "KAFKA_MODULES_LOADED []" in done.stderr  # refused before any client was loaded


@pytest.mark.parametrize("name", services.NAMES)
def test_watchkeeper_serve_is_the_same_command_line(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "watchkeeper", "serve", name, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"usage: watchkeeper serve {name}" in done.stdout


def domain_modules(name: str) -> list[str]:
    package = ROOT / "services" / name
    found = []
    for info in pkgutil.walk_packages([str(package)], prefix=f"services.{name}."):
        short = info.name.removeprefix("services.")
        if short.rsplit(".", 1)[-1] in WIRING or short in WIRING:
            continue
        found.append(info.name)
    return [f"services.{name}", *found]


@pytest.mark.parametrize("name", services.NAMES)
def test_domain_modules_load_no_kafka_client(name: str) -> None:
    modules = domain_modules(name)
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {KAFKA_MODULES!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert loaded == [], f"importing {name}'s domain modules loaded {loaded[:5]}"
    assert len(modules) > 2  # the walk found the package's modules


def test_the_kit_loads_no_kafka_client() -> None:
    code = (
        "import json, sys, watchkeeper.kit, watchkeeper.runtime, watchkeeper.topics\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {KAFKA_MODULES!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_the_docs_services_table_is_the_specs() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert catalog.table() in text, (
        "docs/architecture.md's services table differs from the specs; "
        "paste the output of `python -m services.catalog`"
    )


@pytest.mark.parametrize("name", services.NAMES)
def test_every_topic_a_spec_names_is_declared(name: str) -> None:
    from watchkeeper import topics

    spec = services.spec(name)
    declared = {t.name for t in topics.TOPICS}
    for topic in (*spec.inputs, *spec.outputs, *([spec.state_topic] if spec.state_topic else [])):
        assert topic in declared, f"{name}: {topic} is not in watchkeeper.topics.TOPICS"
    if spec.engine != "own":
        assert set(spec.input_schemas()) == set(spec.inputs)


@pytest.mark.parametrize("name", services.NAMES)
def test_help_lists_every_variable_the_config_reads(name: str) -> None:
    """The spec's settings are what --help prints; the config module is what is read."""
    import re

    source = (ROOT / "services" / name / "config.py").read_text()
    prefix = f"WK_{name.upper()}_"
    read = set(re.findall(rf'"({prefix}[A-Z0-9_]+)"', source))
    spec = services.spec(name)
    listed = {s.name.split("[")[0] for s in spec.settings}
    if spec.config_file is not None:
        listed.add(spec.config_file.name)
    assert read - listed == set(), f"{name} reads {sorted(read - listed)} but --help omits them"
    assert listed - read == set(), f"{name}'s --help lists {sorted(listed - read)} it never reads"
