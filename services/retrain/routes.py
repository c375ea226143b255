"""The retrain service's HTTP API.

======  ===========================================  ========  ===========================
method  path                                         scope     what
======  ===========================================  ========  ===========================
POST    /api/v1/triggers                             write     a manual trigger (a person)
GET     /api/v1/models/{model}                       read      triggers waiting, run in
                                                               flight, last run's end
GET     /api/v1/runs?model=&state=                   read      runs, newest first
GET     /api/v1/runs/{id}                            read      one, with its timeline
POST    /api/v1/runs/{id}/approve|reject|cancel      write     by a person, with a reason
GET     /api/v1/runs/{id}/approve-link|reject-link   the link  the approval notification's
                                                     's sig    signed links (until expiry)
POST    /api/v1/runs/{id}/callback                   the run's the pipeline reports progress,
                                                     token     its candidate, or failure
GET     /api/v1/history/{kind}/{key}                 read      every event, with audit
GET     /api/v1/dump                                 admin     the whole state
======  ===========================================  ========  ===========================

The callback takes ``Authorization: Bearer <the run's callback token>`` (given to the
pipeline in its environment; see ``callback_token``), not an API token: a pipeline can
report on its own run only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

from watchkeeper.control import Rejected
from watchkeeper.control.catalog import Catalog
from watchkeeper.control.operations import Call, Operation, Reply, submits

from . import bodies
from .callback_token import check_callback_token, check_link


class Routes:
    def __init__(self, service: Any, catalog: Catalog, secret: str) -> None:
        self.service = service
        self.catalog = catalog
        self.secret = secret

    def operations(self) -> list[Operation]:
        w, r = "write", "read"
        one = "/api/v1/runs/{id}"
        ops = [
            Operation("POST", "/api/v1/triggers", w, "Trigger a retrain by hand", self.trigger,
                      bodies.TRIGGER, write=True, status=202, tag="triggers"),
            Operation("GET", "/api/v1/models/{model}", r, "A model's triggers and run",
                      self.model, tag="triggers"),
            Operation("GET", "/api/v1/runs", r, "Runs", self.list_runs, query=("model", "state"),
                      tag="runs"),
            Operation("GET", one, r, "One run", self.get_run, tag="runs"),
            Operation("POST", one + "/callback", None, "The pipeline reports", self.callback,
                      bodies.CALLBACK, tag="runs"),
        ]  # fmt: skip
        for decision in ("approve", "reject"):
            ops.append(
                Operation("GET", f"{one}/{decision}-link", None, f"{decision.capitalize()} by "
                          "the signed link of the approval notification", self._link(decision),
                          query=("expires", "sig"), tag="runs")
            )  # fmt: skip
        for act in ("approve", "reject", "cancel"):
            ops.append(
                Operation("POST", f"{one}/{act}", w, f"{act.capitalize()} a run",
                          self._write(f"runs.{act}"), bodies.REASON, write=True, tag="runs")
            )  # fmt: skip
        return ops

    def _write(self, name: str):
        return submits(self.service, name)

    async def trigger(self, call: Call) -> Reply:
        body = dict(call.body)
        # A person's trigger: its own dedup key unless given (two clicks, one run).
        key = body.pop("dedup_key", "") or f"manual:{call.idempotency_key}"
        command = call.command("triggers.add", {**body, "kind": "manual", "dedup_key": key,
                                                "reason": body.get("reason", "") or
                                                f"requested by {call.actor}"})  # fmt: skip
        answer = await self.service.submit(command)
        return Reply(answer.status, answer.body)

    def _link(self, decision: str):
        async def follow(call: Call) -> Reply:
            rid = call.params["id"]
            try:
                expires = int(call.one("expires") or "")
            except ValueError as exc:
                raise Rejected(400, "expires must be milliseconds since the epoch") from exc
            sig = call.one("sig") or ""
            if not self.secret or not check_link(self.secret, rid, decision, expires, sig):
                raise Rejected(403, "not a valid link for this run and decision")
            if call.at_ms > expires:
                raise Rejected(410, "the link has expired")
            word = "approved" if decision == "approve" else "rejected"
            command = replace(call.command(f"runs.{decision}", {"reason": f"{word} by the "
                              "signed link of the approval notification"}), actor="link",
                              idempotency_key=f"link:{rid}:{decision}:{expires}")  # fmt: skip
            answer = await self.service.submit(command)
            return Reply(answer.status, answer.body)

        return follow

    async def callback(self, call: Call) -> Reply:
        rid = call.params["id"]
        token = call.bearer or ""
        if rid not in self.catalog.of("run"):
            raise Rejected(404, f"no run {rid!r}")
        if not token or not check_callback_token(self.secret, rid, token):
            raise Rejected(401, f"not the callback token of run {rid}")
        # The report's own identity: the same report again (a retry) is recorded once.
        digest = hashlib.sha256(json.dumps(call.body, sort_keys=True).encode()).hexdigest()
        command = replace(call.command("runs.callback"), actor=f"pipeline:{rid}",
                          idempotency_key=f"callback:{rid}:{digest[:32]}")  # fmt: skip
        answer = await self.service.submit(command)
        return Reply(answer.status, answer.body)

    # -- reads ----------------------------------------------------------------------------

    async def model(self, call: Call) -> Reply:
        entity = self.catalog.of("model").get(call.params["model"])
        if entity is None:
            raise Rejected(404, f"no triggers or runs for model {call.params['model']!r}")
        return Reply(200, entity.view())

    async def list_runs(self, call: Call) -> Reply:
        model, state = call.one("model"), call.one("state")
        found = [
            {"id": e.key, "model": e.data["model"], "state": e.data["state"],
             "created_ms": e.data["created_ms"], "entity_version": e.version}
            for e in self.catalog.of("run").values()
            if (model is None or e.data["model"] == model)
            and (state is None or e.data["state"] == state)
        ]  # fmt: skip
        found.sort(key=lambda r: r["created_ms"], reverse=True)
        return Reply(200, {"runs": found})

    async def get_run(self, call: Call) -> Reply:
        entity = self.catalog.of("run").get(call.params["id"])
        if entity is None:
            raise Rejected(404, f"no run {call.params['id']!r}")
        return Reply(200, entity.view())
