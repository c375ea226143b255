"""Ports for the servers tests start, and a service told to listen on a taken port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_router_support import TOKEN_TABLE
from watchkeeper.ports import ephemeral_range, free_port

ROOT = Path(__file__).resolve().parents[1]


def test_free_ports_are_distinct_and_outside_the_ephemeral_range() -> None:
    low, high = ephemeral_range()
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == 200
    assert not [p for p in ports if low <= p <= high]


@pytest.mark.parametrize(
    ("name", "variable", "extra"),
    [
        ("slo", "WK_HTTP_PORT", {}),
        (
            "router",
            "WK_ROUTER_API_PORT",
            {"WK_ROUTER_CONFIG": "deploy/router.yaml", "WK_ROUTER_API_TOKENS": TOKEN_TABLE},
        ),
    ],
)
def test_a_taken_port_is_named_and_exits_1_without_a_traceback(
    name: str, variable: str, extra: dict[str, str], kafka_bootstrap: str, prefix: str
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("WK_")}
        env |= {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "WK_TOPIC_PREFIX": prefix,
            "WK_HTTP_PORT": str(free_port()),
            variable: str(taken),
            **extra,
        }
        done = subprocess.run(
            [sys.executable, "-m", f"services.{name}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "address already in use" in output
    assert "Traceback" not in output, output[-3000:]
