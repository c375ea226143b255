"""A client of the retrain service's API.

>>> client = RetrainClient("http://127.0.0.1:8110", "token")
>>> client.close()
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..control.client import Client

ACTS = ("approve", "reject", "cancel")


def _q(part: str) -> str:
    return quote(part, safe="")


class RetrainClient(Client):
    def trigger(self, model: str, reason: str = "", version: str | None = None,
                idempotency_key: str | None = None) -> dict[str, Any]:  # fmt: skip
        body = {"model": model, "reason": reason, **({"version": version} if version else {})}
        return self.write("POST", "/api/v1/triggers", body, idempotency_key=idempotency_key)

    def runs(self, model: str | None = None, state: str | None = None) -> dict[str, Any]:
        return self.get("/api/v1/runs", model=model, state=state)

    def run(self, rid: str) -> dict[str, Any]:
        return self.get(f"/api/v1/runs/{_q(rid)}")

    def act(self, rid: str, act: str, reason: str = "", **kw: Any) -> dict[str, Any]:
        """``approve``, ``reject`` or ``cancel`` a run, with the reason recorded."""
        if act not in ACTS:
            raise ValueError(f"act is one of {', '.join(ACTS)}, not {act!r}")
        return self.write("POST", f"/api/v1/runs/{_q(rid)}/{act}", {"reason": reason}, **kw)
