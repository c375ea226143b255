"""The gate on the service's HTTP server: what a pipeline or a rollout asks before it runs.

``GET /gate/<name>`` and ``POST /gate/<name>`` answer alike, from the gate view (so any
instance answers for every gate):

====== ===================================================================
status  meaning
====== ===================================================================
200     unblocked: the pipeline may run
423     blocked (``Locked``): the body says why (failing checks and values)
404     unknown gate: no verdict yet; a pipeline should treat it as "do not run"
503     the view has not read the topic to its end yet
====== ===================================================================

POST is there for webhooks: Flagger calls a URL with a JSON body (name, namespace, phase,
metadata) and takes any 2xx as "go", anything else as "wait"; Argo Rollouts' web metric
provider reads the JSON answer (``jsonPath: "{$.state}"``, ``successCondition: result ==
'unblocked'``). The body of the request is not read: the gate is named by the path.

``GET /gates`` lists every gate with its state. A pipeline step can be as small as
``curl -fsS http://quality:8106/gate/fraud-training`` (``-f`` fails on 4xx/5xx).

>>> import threading
>>> class View:
...     gates, ready = {}, threading.Event()
...     def get(self, name): return None
>>> View.ready.set()
>>> gate, _ = routes(View())
>>> gate.matches("POST", "/gate/x"), gate.handle(Request("POST", "/gate/x", rest="x")).status
(True, 404)
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import unquote

from watchkeeper.kit import Request, Response, Route

from . import metrics


class Gates(Protocol):
    """What the gate view offers the routes (``gateview.GateView``)."""

    gates: dict[str, dict[str, Any]]
    ready: Any  # a threading.Event: set once the view has read the topic to its end

    def get(self, name: str) -> dict[str, Any] | None: ...


def answer(view: Gates, path: str) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for ``/gate/<name>`` or ``/gates``."""
    if path == "/gates":
        return 200, {name: _public(g) for name, g in sorted(view.gates.items())}
    name = unquote(path[len("/gate/") :])
    if not view.ready.is_set():
        metrics.GATE_REQUESTS.labels("not_ready").inc()
        return 503, {"gate": name, "state": "unknown", "reason": "gate view still loading"}
    gate = view.get(name)
    if gate is None:
        metrics.GATE_REQUESTS.labels("unknown").inc()
        return 404, {"gate": name, "state": "unknown", "reason": "no verdict for this gate yet"}
    body = _public(gate)
    blocked = gate["state"] == "BLOCKED"
    metrics.GATE_REQUESTS.labels("blocked" if blocked else "unblocked").inc()
    return (423 if blocked else 200), body


def _public(gate: dict[str, Any]) -> dict[str, Any]:
    return {
        "gate": gate["gate"],
        "model": gate["model"],
        "state": gate["state"].lower(),
        "since_ms": gate["since_ms"],
        "reasons": gate["reasons"],
        "updated_ms": gate["event_time_ms"],
    }


def routes(view: Gates) -> list[Route]:
    def gate(request: Request) -> Response:
        if not request.rest:
            return Response(404, {"error": "GET /gate/<name> or /gates"})
        return Response(*answer(view, request.path))

    def gates(request: Request) -> Response:
        return Response(*answer(view, "/gates"))

    return [Route(("GET", "POST"), "/gate/", gate), Route("GET", "/gates", gates)]
