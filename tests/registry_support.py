"""Starting the registry service for tests, with one token per scope."""

from __future__ import annotations

from pathlib import Path

from watchkeeper.clients.registry import RegistryClient
from watchkeeper.devstack import ServiceProcess

TOKENS = {
    "reader": "read-token-0123456789",
    "writer": "write-token-0123456789",
    "admin": "admin-token-0123456789",
}
TOKEN_TABLE = "; ".join(
    f"{name} {scope} {TOKENS[name]}"
    for name, scope in (("reader", "read"), ("writer", "write"), ("admin", "admin"))
)
POLICY = """
defaults:
  gated_aliases: [champion]
  compare: {auc: higher}
"""


def registry_env(bootstrap: str, prefix: str, tmp_path: Path) -> dict[str, str]:
    policy = tmp_path / "registry.yaml"
    policy.write_text(POLICY)
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "WK_TOPIC_PREFIX": prefix,
        "WK_REGISTRY_API_TOKENS": TOKEN_TABLE,
        "WK_REGISTRY_POLICY": str(policy),
    }


def start_registry(start_service, prefix: str, tmp_path: Path, **env: str) -> ServiceProcess:
    policy = tmp_path / "registry.yaml"
    policy.write_text(POLICY)
    return start_service(
        "services.registry",
        prefix,
        WK_REGISTRY_API_TOKENS=TOKEN_TABLE,
        WK_REGISTRY_POLICY=str(policy),
        **env,
    )


def client(service: ServiceProcess, who: str = "writer") -> RegistryClient:
    return RegistryClient(service.url, TOKENS[who])
