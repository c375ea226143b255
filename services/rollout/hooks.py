"""Flagger-style webhooks, signed: the rollout asks (pre-rollout, rollout,
confirm-promotion) or tells (post-rollout, rollback) a URL of the team's.

Each call is a POST of JSON with headers a receiver can check and deduplicate by:

=========================  ================================================================
``X-Watchkeeper-Event``    the phase (``pre-rollout`` ...)
``X-Watchkeeper-Delivery`` a stable id (``<rollout>:<phase>:<step>``): a retry repeats it
``X-Watchkeeper-Timestamp`` seconds since the epoch, signed with the body
``X-Watchkeeper-Signature`` ``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` with the
                           shared secret (``WK_ROLLOUT_HOOK_SECRET``); absent when unset
=========================  ================================================================

A 2xx answer is a yes; anything else, a timeout or a refused connection is a no, with
the reason kept in the rollout's timeline.

>>> signature("s3cret", 1700000000, b'{"phase":"rollout"}')
'sha256=0ba5c40ee7f125e98b6ead29302b39d644ab9772f242c663bf4b33ade69476f1'
>>> verify("s3cret", 1700000000, b"{}", signature("s3cret", 1700000000, b"{}"))
True
>>> verify("s3cret", 1700000000, b"{}", signature("other", 1700000000, b"{}"))
False
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, NamedTuple

import aiohttp


class HookResult(NamedTuple):
    ok: bool
    detail: str


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: int, body: bytes, given: str) -> bool:
    """For receivers (and our tests): the signature matches the body and timestamp."""
    return hmac.compare_digest(signature(secret, timestamp, body), given)


def payload(spec: dict[str, Any], phase: str, hook: dict[str, Any]) -> dict[str, Any]:
    step = spec.get("step", 0)
    steps = spec.get("steps") or []
    return {
        "rollout": spec["id"],
        "model": spec["model"],
        "strategy": spec["strategy"],
        "phase": phase,
        "hook": hook["name"],
        "state": spec["state"],
        "step": step,
        "weight": steps[step] if step < len(steps) else None,
        "baseline": spec.get("baseline"),
        "candidate": spec.get("candidate"),
        "reason": (spec.get("rollback") or {}).get("reason") or spec.get("abort_reason", ""),
    }


async def call(
    session: aiohttp.ClientSession,
    hook: dict[str, Any],
    body: dict[str, Any],
    delivery: str,
    secret: str,
) -> HookResult:
    data = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    now = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "watchkeeper-rollout",
        "X-Watchkeeper-Event": body["phase"],
        "X-Watchkeeper-Delivery": delivery,
        "X-Watchkeeper-Timestamp": str(now),
    }
    if secret:
        headers["X-Watchkeeper-Signature"] = signature(secret, now, data)
    timeout = aiohttp.ClientTimeout(total=float(hook.get("timeout_s", 10.0)))
    try:
        async with session.post(hook["url"], data=data, headers=headers, timeout=timeout) as r:
            text = (await r.text())[:200]
            if 200 <= r.status < 300:
                return HookResult(True, f"{hook['name']}: {r.status}")
            return HookResult(False, f"hook {hook['name']} answered {r.status}: {text}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return HookResult(False, f"hook {hook['name']} failed: {type(exc).__name__}: {exc}")
