"""A client of the rollout service's API (the base install's httpx client, with retries
of unavailable answers under the same idempotency key).

>>> client = RolloutClient("http://127.0.0.1:8109", "token")
>>> client.close()
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..control.client import Client

ACTS = ("pause", "resume", "abort", "rollback", "switch")


def _q(part: str) -> str:
    return quote(part, safe="")


class RolloutClient(Client):
    def start(self, spec: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        return self.write("POST", "/api/v1/rollouts", spec, idempotency_key=idempotency_key)

    def get_rollout(self, rid: str) -> dict[str, Any]:
        return self.get(f"/api/v1/rollouts/{_q(rid)}")

    def list_rollouts(self, model: str | None = None, state: str | None = None) -> dict[str, Any]:
        return self.get("/api/v1/rollouts", model=model, state=state)

    def act(self, rid: str, act: str, reason: str = "", **kw: Any) -> dict[str, Any]:
        """``pause``, ``resume``, ``abort``, ``rollback`` or ``switch`` (blue-green)."""
        if act not in ACTS:
            raise ValueError(f"act is one of {', '.join(ACTS)}, not {act!r}")
        return self.write("POST", f"/api/v1/rollouts/{_q(rid)}/{act}", {"reason": reason}, **kw)

    def verdict(self, rid: str) -> dict[str, Any]:
        return self.get(f"/api/v1/rollouts/{_q(rid)}/verdict")

    def routing(self, model: str, export: str = "", **query: Any) -> dict[str, Any]:
        """The model's split; ``export`` ``httproute`` or ``virtualservice`` for a mesh."""
        suffix = f"/{export}" if export else ""
        return self.get(f"/api/v1/routing/{_q(model)}{suffix}", **query)
