"""What a run's state asks of the world outside Kafka, done until it is done: the
pipeline launched (idempotent by run id: a restart reattaches, never launches twice) and
watched, the candidate registered, validated, approved by policy or waiting for a person,
rolled out, and the rollout's outcome recorded. A controller's loop, like the rollout
service's: each pass does the next piece and records it with a command.

====================  ===================================================================
state                 what is done
====================  ===================================================================
launching             the policy's launcher launches the run (``Retry``: later;
                      ``LaunchError``: the run fails with the reason)
running               the launcher is polled: a failed or timed-out pipeline fails the
                      run; one that ends without a candidate fails it too
candidate             the datasets and the candidate version are registered in the
                      registry (idempotency keys by run), with the run as lineage
validating            the candidate's metrics against the thresholds and the champion's;
                      auto approval when the policy's margin holds
awaiting_approval     expired after the policy's ``expiry_s``
approved              the policy's rollout starts (champion -> candidate)
rolling_out           the rollout's end is recorded: promoted or rolled back
====================  ===================================================================
"""

from __future__ import annotations

import logging
import time
from typing import Any

from watchkeeper.control.controller import Controller

from .gating import auto_approve
from .launch import context, launcher_for
from .launchers import Launched, LaunchError, Retry

log = logging.getLogger(__name__)
ACTOR = "reconciler"
WORK = ("launching", "running", "candidate", "validating", "awaiting_approval", "approved",
        "rolling_out")  # fmt: skip


class Reconciler(Controller):
    kind = "run"

    def __init__(self, service: Any, config: Any, registry: Any, rollouts: Any,
                 pass_s: float = 0.5) -> None:  # fmt: skip
        super().__init__(service, pass_s)
        self.config = config
        self.registry, self.rollouts = registry, rollouts
        self._ended: set[str] = set()  # pipelines seen finished, their candidate awaited once

    def work_left(self, data: dict[str, Any]) -> bool:
        return data["state"] in WORK

    async def step(self, data: dict[str, Any]) -> None:
        await getattr(self, "_" + data["state"])(data)

    async def _submit(self, name: str, run: dict, body: dict, key: str) -> None:
        await self.submit(name, run["id"], body, key)

    def _policy(self, run: dict):
        return self.config.policy.for_model(run["model"])

    def _launcher(self, run: dict):
        spec = self._policy(run).launcher
        if spec is None:
            raise LaunchError(f"the policy gives model {run['model']} no launcher")
        return launcher_for(spec, self.config.state_dir)

    # -- the pipeline ---------------------------------------------------------------------

    async def _launching(self, run: dict) -> None:
        try:
            launcher = self._launcher(run)
            ctx = context(run, self.config.public_url, self.config.callback_secret)
            launched = await self.call(launcher.launch, ctx)
        except Retry as exc:
            log.info("launch to retry", extra={"run": run["id"], "reason": str(exc)})
            self.later(run["id"], 5.0)
            return
        except (LaunchError, ValueError) as exc:
            await self._submit(
                "runs.fail", run, {"reason": f"launch failed: {exc}"}, "launch-failed"
            )
            return
        body = {"external_id": launched.external_id, "detail": launched.detail}
        await self._submit("runs.launched", run, body, "launched")

    async def _running(self, run: dict) -> None:
        launched = Launched(**{k: run["launched"].get(k, "") for k in ("external_id", "detail")})
        try:
            status = await self.call(self._launcher(run).poll, launched)
        except Retry:
            self.later(run["id"], 5.0)
            return
        if status.state == "failed":
            reason = f"the pipeline failed: {status.detail}"
            await self._submit("runs.fail", run, {"reason": reason}, "pipeline-failed")
        elif status.state == "succeeded":
            # Its candidate may still be on its way: give the callback a moment, once.
            if run["id"] in self._ended:
                await self._submit("runs.fail", run, {"reason": "the pipeline ended without "
                                   "reporting a candidate"}, "no-candidate")  # fmt: skip
            else:
                self._ended.add(run["id"])
                self.later(run["id"], 5.0)
        else:
            self.later(run["id"], 1.0)

    # -- the candidate --------------------------------------------------------------------

    async def _candidate(self, run: dict) -> None:
        c, rid = run["candidate"], run["id"]
        if self.registry is not None:
            from watchkeeper.control.client import ApiError

            refs = []
            try:
                for d in c.get("datasets", []):
                    fields = {k: d[k] for k in ("uri", "content_hash", "row_count") if k in d}
                    await self.call(self._register_dataset, rid, d["name"], d["version"], fields)
                    refs.append({"name": d["name"], "version": d["version"]})
                await self.call(
                    self.registry.register_version, run["model"], c["version"],
                    idempotency_key=f"retrain:{rid}:version", artifact_uri=c["artifact_uri"],
                    metrics=c.get("metrics") or None, training_datasets=refs or None,
                    params=c.get("params") or None, tags={"retrain_run": rid},
                )  # fmt: skip
            except ApiError as exc:
                if exc.status >= 500:
                    self.later(rid, 2.0)
                    return
                await self._submit("runs.fail", run, {"reason": f"the registry refused the "
                                   f"candidate: {exc.reason}"}, "register-failed")  # fmt: skip
                return
        await self._submit("runs.registered", run, {"detail": f"{run['model']} {c['version']}"},
                           "registered")  # fmt: skip

    def _register_dataset(self, rid: str, name: str, version: str, fields: dict) -> None:
        from watchkeeper.control.client import ApiError

        try:
            self.registry.register_dataset(name, version, idempotency_key=f"retrain:{rid}:"
                                           f"dataset:{name}:{version}", **fields)  # fmt: skip
        except ApiError as exc:
            if exc.status != 409:  # registered already (by an earlier run): use it
                raise

    async def _validating(self, run: dict) -> None:
        """``gate validate`` on the policy's holdout (recorded on the version, as the CI
        gate records it); without a validation section, the candidate's own metrics."""
        policy, c = self._policy(run), run["candidate"]
        champion_version, champion = await self._champion(run)
        if policy.validation is None:
            passed, metrics, details = True, dict(c.get("metrics", {})), "validation: skip"
        else:
            from watchkeeper.gates.report import UsageError
            from watchkeeper.gates.validate import validate

            from .policy import validate_request

            try:
                request = validate_request(policy.validation, run["model"], c["version"],
                                           champion_version, run["id"])  # fmt: skip
                result = await self.call(validate, request)
            except (UsageError, OSError, ValueError) as exc:
                await self._submit("runs.fail", run, {"reason": f"validation could not run: "
                                   f"{exc}"}, "validation-error")  # fmt: skip
                return
            passed, metrics, details = result.passed, dict(result.metrics), result.details()
            if self.registry is not None:
                await self.call(self._record, run, passed, metrics, details)
        approved, why = auto_approve(policy.approval, passed, metrics, champion)
        body = {"passed": passed, "metrics": metrics, "details": details, "auto_approved":
                approved, "approval_reason": why, "expiry_s": policy.approval.expiry_s}  # fmt: skip
        await self._submit("runs.validated", run, body, "validated")

    def _record(self, run: dict, passed: bool, metrics: dict, details: str) -> None:
        key = f"retrain:{run['id']}:validated"
        version = run["candidate"]["version"]
        self.registry.record_validation(
            run["model"], version, passed, metrics, "gate:validate", details, idempotency_key=key
        )

    async def _champion(self, run: dict) -> tuple[str | None, dict[str, float]]:
        """The version the champion alias names now, and its metrics (validations' last)."""
        if self.registry is None:
            return None, {}
        from watchkeeper.control.client import ApiError

        try:
            held = await self.call(self.registry.get_alias, run["model"], "champion")
        except ApiError:
            return None, {}
        version = held.get("version") or {}
        found = dict(version.get("metrics", {}))
        for validation in version.get("validations", []):
            found.update(validation.get("metrics", {}))
        return version.get("version"), found

    async def _awaiting_approval(self, run: dict) -> None:
        left_s = (run["approval_expires_ms"] - time.time() * 1000) / 1000
        if left_s > 0:
            self.later(run["id"], min(left_s, 30.0))
        else:
            await self._submit("runs.expire", run, {}, "expired")

    # -- the rollout ----------------------------------------------------------------------

    async def _approved(self, run: dict) -> None:
        if self.rollouts is None:
            await self._submit("runs.fail", run, {"reason": "no rollout service configured"},
                               "no-rollout")  # fmt: skip
            return
        from watchkeeper.control.client import ApiError

        baseline = run["version"]
        if self.registry is not None:
            try:
                held = await self.call(self.registry.get_alias, run["model"], "champion")
                baseline = held["version"]["version"]
            except ApiError:
                pass
        spec = {**self._policy(run).rollout, "model": run["model"], "baseline": baseline,
                "candidate": run["candidate"]["version"],
                "reason": f"retrain run {run['id']}"}  # fmt: skip
        try:
            started = await self.call(self.rollouts.start, spec, f"retrain:{run['id']}")
        except ApiError as exc:
            if exc.status >= 500 or exc.status == 409:  # away, or another rollout running
                self.later(run["id"], 5.0)
                return
            await self._submit("runs.fail", run, {"reason": f"the rollout was refused: "
                               f"{exc.reason}"}, "rollout-refused")  # fmt: skip
            return
        await self._submit("runs.rollout", run, {"rollout": started["id"]}, "rollout")

    async def _rolling_out(self, run: dict) -> None:
        from watchkeeper.control.client import ApiError

        try:
            rollout = await self.call(self.rollouts.get_rollout, run["rollout"]["id"])
        except ApiError:
            self.later(run["id"], 5.0)
            return
        state = rollout["state"]
        if state in ("promoted", "rolled_back", "aborted"):
            reason = (rollout.get("rollback") or {}).get("reason") or rollout.get("promotion", "")
            outcome = "promoted" if state == "promoted" else "rolled_back"
            await self._submit("runs.rolled", run, {"state": outcome, "reason": reason or state},
                               "rolled")  # fmt: skip
        else:
            self.later(run["id"], 2.0)
