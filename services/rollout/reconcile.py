"""What a rollout's state asks of the world outside Kafka, done until it is done: hooks
called, the registry's alias moved, the kept-ready version retired. A controller's loop:
every pass looks at the rollouts with work left and does the next piece, then records it
with a command (so a restart finds the same work left and does it again, with the same
delivery id and idempotency keys: a receiver or the registry sees a retry, not a second
act).

=======================  ================================================================
state / what is left     what is done
=======================  ================================================================
starting                 pre-rollout hooks; all yes -> the first step, any no -> rollback
progressing, step s      the step's rollout hooks (once per step); a no -> rollback
confirming               confirm-promotion hooks, asked again every ``confirm_every_s``
                         until all say yes (or someone aborts)
promoting                the candidate's validation and the alias (``champion``) move in
                         the registry -> promoted; the registry's gate refusing -> rollback
switched (blue-green)    the alias follows the active colour; refused -> switched back
kept ready, expired      the version switched away from is retired -> completed
ended                    post-rollout (and, after a rollback, rollback) hooks: told once
=======================  ================================================================
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, NamedTuple

import aiohttp

from watchkeeper.control.controller import Controller

from . import hooks as webhooks
from .decide import hooks_of
from .plan import TERMINAL

log = logging.getLogger(__name__)
ACTOR = "reconciler"
GATE_ATTEMPTS = 3  # a pre-rollout or rollout hook gets this many tries before it is a no
TELL_ATTEMPTS = 5  # a notification this many before it is given up (and that recorded)


class Reconciler(Controller):
    kind = "rollout"

    def __init__(
        self,
        service: Any,
        registry: Any,
        secret: str,
        pass_s: float = 0.2,
        confirm_every_s: float = 5.0,
    ) -> None:
        super().__init__(service, pass_s)
        self.registry = registry  # a RegistryClient, or None
        self.secret = secret
        self.confirm_every_s = confirm_every_s

    def work_left(self, data: dict[str, Any]) -> bool:
        return work_left(data)

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session:
            self.session = session
            await super().run()

    async def step(self, data: dict[str, Any]) -> None:
        await self._next(data)

    async def _submit(self, name: str, spec: dict[str, Any], body: dict[str, Any], key: str):
        return await self.submit(name, spec["id"], body, key)

    # -- the next piece of work -----------------------------------------------------------

    async def _next(self, spec: dict[str, Any]) -> None:
        state, rid = spec["state"], spec["id"]
        if state == "starting":
            result = await self._ask(spec, "pre-rollout", "pre-rollout:0")
            if result.ok:
                await self._submit("rollouts.started", spec, {}, "started")
            else:
                await self._submit(
                    "rollouts.rollback", spec, {"reason": result.detail}, "pre-rollout-failed"
                )
        elif state == "progressing" and _unmarked(spec, f"rollout:{spec['step']}"):
            step = spec["step"]
            result = await self._ask(spec, "rollout", f"rollout:{step}")
            if result.ok:
                await self._submit(
                    "rollouts.hooked",
                    spec,
                    {"mark": f"rollout:{step}", "detail": result.detail},
                    f"hooked:rollout:{step}",
                )
            else:
                await self._submit(
                    "rollouts.rollback",
                    spec,
                    {"reason": result.detail, "step": step},
                    f"{step}:rollout-hook-failed",
                )
        elif state == "confirming":
            result = await self._ask(spec, "confirm-promotion", "confirm-promotion", attempts=1)
            if result.ok:
                await self._submit(
                    "rollouts.confirmed", spec, {"reason": result.detail}, "confirmed"
                )
            else:
                self.later(rid, self.confirm_every_s)
        elif state == "promoting":
            await self._promote(spec)
        elif spec.get("alias_pending"):
            await self._follow_alias(spec)
        elif state == "active" and spec.get("ready_until_ms") is not None:
            left_s = (spec["ready_until_ms"] - time.time() * 1000) / 1000
            if left_s > 0:
                self.later(rid, min(left_s, 60.0))
            else:
                await self._submit("rollouts.retire", spec, {}, f"retire:{spec['switches']}")
        elif state in TERMINAL:
            await self._tell_end(spec)

    async def _ask(
        self, spec: dict[str, Any], phase: str, mark: str, attempts: int = GATE_ATTEMPTS
    ):
        result = webhooks.HookResult(True, "no hooks")
        for hook in hooks_of(spec, phase):
            body = webhooks.payload(spec, phase, hook)
            delivery = f"{spec['id']}:{mark}:{hook['name']}"
            for attempt in range(attempts):
                result = await webhooks.call(self.session, hook, body, delivery, self.secret)
                if result.ok:
                    break
                if attempt + 1 < attempts:
                    await asyncio.sleep(2**attempt)  # backoff between tries of one hook
            if not result.ok:
                return result
        return result

    async def _tell_end(self, spec: dict[str, Any]) -> None:
        details = []
        phases = ["post-rollout"] + (["rollback"] if spec["state"] == "rolled_back" else [])
        for phase in phases:
            for hook in hooks_of(spec, phase):
                result = await self._ask({**spec, "hooks": [hook]}, phase, "end", TELL_ATTEMPTS)
                details.append(result.detail)
        await self._submit(
            "rollouts.hooked", spec, {"mark": "end", "detail": "; ".join(details)}, "hooked:end"
        )

    # -- the registry ---------------------------------------------------------------------

    async def _move_alias(self, spec: dict[str, Any], version: str, why: str, key: str):
        """Record a validation on ``version`` and move the spec's alias to it: the detail
        when done, ``Refused`` with the registry's reason, None to try again later."""
        from watchkeeper.control.client import ApiError

        rid, model, alias = spec["id"], spec["model"], spec["alias"]
        if self.registry is None:
            return "no registry configured: no alias moved"
        try:
            await self.call(
                self.registry.record_validation, model, version, True, {}, f"rollout:{rid}",
                why, idempotency_key=f"{rid}:{key}:validated",
            )  # fmt: skip
            await self.call(
                self.registry.set_alias, model, alias, version, reason=f"rollout {rid}: {why}",
                idempotency_key=f"{rid}:{key}",
            )  # fmt: skip
        except ApiError as exc:
            if exc.status in (502, 503, 504):
                self.later(rid, 2.0)
                return None
            return Refused(f"the registry refused {alias} -> {version}: {exc.reason}")
        return f"{alias} -> {version}"

    async def _promote(self, spec: dict[str, Any]) -> None:
        why = spec.get("last_verdict", "") or "passed every step"
        moved = await self._move_alias(spec, spec["candidate"], why, "alias")
        if isinstance(moved, Refused):
            await self._submit("rollouts.rollback", spec, {"reason": moved.reason},
                               "registry-refused")  # fmt: skip
        elif moved is not None:
            await self._submit("rollouts.promoted", spec, {"detail": moved}, "promoted")

    async def _follow_alias(self, spec: dict[str, Any]) -> None:
        version, key = spec["alias_pending"], f"aliased:{spec['switches']}"
        moved = await self._move_alias(spec, version, "blue-green switch", key)
        if isinstance(moved, Refused):  # back to the colour the alias still names
            await self._submit("rollouts.rollback", spec, {"reason": moved.reason},
                               f"refused:{spec['switches']}")  # fmt: skip
        elif moved is not None:
            await self._submit("rollouts.aliased", spec, {"version": version, "detail": moved},
                               key)  # fmt: skip


class Refused(NamedTuple):
    reason: str


def _unmarked(spec: dict[str, Any], mark: str) -> bool:
    phase = mark.split(":", 1)[0]
    return bool(hooks_of(spec, phase)) and mark not in spec.get("hooked", [])


def work_left(spec: dict[str, Any]) -> bool:
    state = spec["state"]
    if state in ("starting", "confirming", "promoting") or spec.get("alias_pending"):
        return True
    if state == "progressing":
        return _unmarked(spec, f"rollout:{spec['step']}")
    if state == "active":
        return spec.get("ready_until_ms") is not None
    if state in TERMINAL:
        ends = hooks_of(spec, "post-rollout") + hooks_of(spec, "rollback")
        return bool(ends) and "end" not in spec.get("hooked", [])
    return False
