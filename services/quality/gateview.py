"""Every gate's latest state, read from the compacted ``gates`` topic, and the HTTP
endpoint a pipeline asks before it runs.

The view reads the topic (not the tasks' memory), so every instance answers for every
gate, whichever instance owns the model's partition, and a restarted instance knows
the gates before its tasks have seen an event. It reads committed transactions only:
a gate is never reported from work that was rolled back.

``GET /gate/<name>``:

====== ===================================================================
status  meaning
====== ===================================================================
200     unblocked: the pipeline may run
423     blocked (``Locked``): the body says why (failing checks and values)
404     unknown gate: no verdict yet; a pipeline should treat it as "do not run"
503     the view has not read the topic to its end yet
====== ===================================================================

``GET /gates`` lists every gate with its state. A pipeline step can be as small as
``curl -fsS http://quality:8108/gate/fraud-training`` (``-f`` fails on 4xx/5xx).
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from watchkeeper.codec import Codec, EventError
from watchkeeper.runtime import compacted
from watchkeeper.settings import KafkaSettings

from . import metrics

log = logging.getLogger(__name__)


class GateView:
    def __init__(self, kafka: KafkaSettings, topic: str, codec: Codec | None = None) -> None:
        self.kafka = kafka
        self.topic = topic
        self.codec = codec or Codec()
        self.gates: dict[str, dict[str, Any]] = {}
        self._table = compacted.Table(kafka, topic, self._apply, name="wk-gate-view")
        self.ready = self._table.ready

    def start(self, timeout: float = 60.0) -> GateView:
        if not self._table.start(timeout):
            log.warning("gate view not caught up yet", extra={"topic": self.topic})
        return self

    def stop(self) -> None:
        self._table.stop()

    def get(self, name: str) -> dict[str, Any] | None:
        return self.gates.get(name)

    def problem(self) -> str | None:
        """For /healthz: None when the view is current."""
        return self._table.problem()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            if key is not None:
                self.gates.pop(key.decode(errors="replace"), None)
            return
        try:
            record = self.codec.decode_as("GateState", value)
        except EventError as exc:
            log.warning("undecodable gate record skipped", extra={"error": str(exc)})
            return
        self.gates[record["gate"]] = record


def answer(view: GateView, path: str) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for a GET of ``path``; Kafka-free, for tests."""
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


class GateHTTP:
    """``/gate/<name>`` and ``/gates`` on a thread of their own (``WK_QUALITY_GATE_PORT``)."""

    def __init__(self, view: GateView, host: str, port: int) -> None:
        outer_view = view

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/gates" or (path.startswith("/gate/") and len(path) > 6):
                    status, body = answer(outer_view, path)
                else:
                    status, body = 404, {"error": "GET /gate/<name> or /gates"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass  # pipelines poll; their requests would drown the service's own logs

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="wk-gate-http", daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> GateHTTP:
        self._thread.start()
        log.info("gate endpoint listening", extra={"port": self.port})
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
