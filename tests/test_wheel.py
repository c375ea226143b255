"""The wheel as an inference service gets it: ``pip install watchkeeper`` into a fresh venv,
base dependencies only, run from outside the checkout with no ``WK_SCHEMA_DIR``.

What this holds: the schemas travel as package data, the SDK needs none of the services'
dependencies, and an event it emits decodes with the checkout's codec (same fingerprints).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from watchkeeper.codec import Codec

from .helpers import consume

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parent.parent
CODEC = Codec()
# Nothing an inference service should pay for; none of it is a base dependency.
SERVICE_ONLY = [
    "faust", "mode", "river", "aiokafka", "aiohttp", "pyarrow", "yaml", "jsonschema", "orjson",
]  # fmt: skip

# pip output worth a skip rather than a failure: the build backend cannot be fetched.
_NO_INDEX = ("No matching distribution found for setuptools", "Could not fetch URL")


def _pip(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def wheel_python(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The interpreter of a fresh venv with the wheel and its base dependencies installed,
    and how long building and installing took."""
    root = tmp_path_factory.mktemp("wheel")
    started = time.monotonic()
    # A clean copy: setuptools reuses build/lib in the source tree, where a module deleted
    # since the last build would still be packed.
    source = root / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".cache", "build", "dist", "*.egg-info", "__pycache__", "loadtest"
        ),
    )
    dist = root / "dist"
    built = _pip("wheel", "--no-deps", "--wheel-dir", str(dist), str(source), cwd=root)
    if built.returncode != 0:
        tail = (built.stdout + built.stderr)[-2000:]
        if any(marker in tail for marker in _NO_INDEX):
            pytest.skip(f"cannot build the wheel: the build backend is unreachable:\n{tail}")
        pytest.fail(f"pip wheel failed:\n{tail}")
    (wheel,) = dist.glob("watchkeeper-*.whl")

    venv = root / "venv"
    # Without pip of its own: the test's pip installs into it (--python), which skips
    # ensurepip and reuses the pip cache.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = _pip(
        "--python",
        str(python),
        "install",
        "--quiet",
        "-c",
        str(REPO / "constraints.txt"),
        str(wheel),
        cwd=root,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return python, time.monotonic() - started


EMIT = textwrap.dedent(
    """
    import importlib.util, json, sys

    from watchkeeper import Emitter
    import watchkeeper
    from watchkeeper.clients import RegistryClient  # the control-plane client is base too
    from watchkeeper.codec import SchemaRegistry

    service_only = sys.argv[1].split(",")
    emitter = Emitter(client_id="wheel-test")
    event_id = emitter.prediction(
        model="fraud", version="7", latency_ms=4.5, label="legit", num_features={"amount": 12.0}
    )
    undelivered = emitter.close(timeout=30)
    print(json.dumps({
        "event_id": event_id,
        "undelivered": undelivered,
        "package": watchkeeper.__file__,
        "schemas": str(SchemaRegistry().root),
        "loaded": [m for m in service_only if m in sys.modules],
        "importable": [m for m in service_only if importlib.util.find_spec(m) is not None],
    }))
    """
)


def test_the_wheel_alone_emits_a_prediction_the_codec_decodes(
    wheel_python: tuple[Path, float], kafka_settings, prefix, tmp_path: Path
) -> None:
    python, setup_s = wheel_python
    outside = tmp_path / "service"
    outside.mkdir()
    assert not outside.resolve().is_relative_to(REPO)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("WK_SCHEMA_DIR", "PYTHONPATH", "VIRTUAL_ENV")
    }
    env |= {"KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers, "WK_TOPIC_PREFIX": prefix}
    # -I: neither the working directory nor PYTHON* variables may lend it the checkout.
    run = subprocess.run(
        [str(python), "-I", "-c", EMIT, ",".join(SERVICE_ONLY)],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"wheel built and installed in {setup_s:.1f} s")

    venv = python.parent.parent
    assert Path(report["package"]).is_relative_to(venv), report["package"]
    assert Path(report["schemas"]).is_relative_to(venv), report["schemas"]
    assert report["undelivered"] == 0
    assert report["loaded"] == []
    assert report["importable"] == []

    messages = consume(kafka_settings, prefix + "predictions", 2, timeout=10)
    assert len(messages) == 1
    record = CODEC.decode_as("PredictionEvent", messages[0].value())
    assert messages[0].key() == b"fraud"
    assert record["event_id"] == report["event_id"]
    assert (record["version"], record["prediction_label"]) == ("7", "legit")
    assert (record["latency_ms"], record["num_features"]) == (4.5, {"amount": 12.0})
