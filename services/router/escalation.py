"""Escalation policies: page step by step until someone acknowledges; then an incident.

A policy is ordered steps (notify these receivers, wait), run ``repeat`` more times, and
optionally a final step that opens an incident. An *escalation* is one episode of one
aggregation group on a route with a policy: it starts when the group first has an alert
to tell (the group's flush), and its **stages** are the steps in order, cycle after cycle,
then the incident::

    stage:  0        1        2        3        4
            step 1   step 2   step 1   step 2   open incident      (2 steps, repeat: 1)

Executing a stage *pages* its receivers: each paged receiver is told about the group now,
even if it was told before (that is the point of paging again). Acknowledging stops the
stages; with ``ack_timeout`` the acknowledgement lapses and the current stage pages again
(PagerDuty's acknowledgement timeout). Resolving ends it: all alerts resolved, or a person
resolved it through the API (then the alerts still firing do not start a new episode; a
new or re-fired alert does).

Everything here is plain data and arithmetic on an injected "now" (epoch ms): the router
persists an escalation's record to the compacted ``escalations`` topic *before* it pages,
so a restarted router resumes at the same stage, and ``next_ms`` is absolute, so a stage
due while the router was down runs at once after the restart, exactly once.

>>> policy = Policy("risk", (Step(("primary",), 300.0), Step(("secondary",), 600.0)),
...                 incident=Step(("commander",)))
>>> book = EscalationBook({"risk": policy})
>>> esc, page = book.start("{}:{model=\\"fraud\\"}", "risk", now_ms=0)
>>> page.receivers, page.label, esc.next_ms
(('primary',), '1/2', 300000)
>>> [(p.receivers, p.label) for e in book.due(300000) if (p := book.advance(e, 300000))]
[(('secondary',), '2/2')]
>>> page = book.advance(esc, 900000)
>>> page.receivers, page.label, esc.incident_id == "inc-" + esc.id, esc.next_ms
(('commander',), 'incident', True, None)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .alert import Alert

FORMAT_VERSION = 1
TRIGGERED, ACKNOWLEDGED, RESOLVED = "triggered", "acknowledged", "resolved"
MAX_TIMELINE = 200
MAX_ALERTS = 100


@dataclass(frozen=True)
class Step:
    notify: tuple[str, ...]
    wait_s: float = 0.0


@dataclass(frozen=True)
class Policy:
    name: str
    steps: tuple[Step, ...]
    repeat: int = 0
    ack_timeout_s: float | None = None
    incident: Step | None = None  # the final step: open an incident (and notify these)
    line: int = 0

    @property
    def stages(self) -> int:
        return len(self.steps) * (self.repeat + 1) + (1 if self.incident else 0)

    def stage(self, index: int) -> tuple[Step, str, bool]:
        """The step of a stage, its label for people, and whether it opens the incident."""
        notify_stages = len(self.steps) * (self.repeat + 1)
        if index >= notify_stages:
            assert self.incident is not None
            return self.incident, "incident", True
        cycle, step = divmod(index, len(self.steps))
        label = f"{step + 1}/{len(self.steps)}" + (f" (repeat {cycle})" if cycle else "")
        return self.steps[step], label, False


@dataclass
class Escalation:
    id: str
    group_key: str
    policy: str
    started_ms: int
    status: str = TRIGGERED
    stage: int = -1  # the last stage executed
    stage_label: str = ""
    next_ms: int | None = None  # when something is next due: a stage, or the ack's end
    pages: dict[str, int] = field(default_factory=dict)  # receiver -> its latest page
    acked_by: str = ""
    acked_ms: int | None = None
    ack_expires_ms: int | None = None
    resolved_by: str = ""
    resolved_ms: int | None = None
    incident_id: str = ""
    incident_opened_ms: int | None = None
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def note(self, at_ms: int, event: str, **detail: Any) -> None:
        self.timeline.append({"at_ms": at_ms, "event": event, **detail})
        if len(self.timeline) > MAX_TIMELINE:
            del self.timeline[: len(self.timeline) - MAX_TIMELINE]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "group_key": self.group_key,
            "policy": self.policy,
            "started_ms": self.started_ms,
            "status": self.status,
            "stage": self.stage,
            "stage_label": self.stage_label,
            "next_ms": self.next_ms,
            "pages": dict(self.pages),
            "acked_by": self.acked_by,
            "acked_ms": self.acked_ms,
            "ack_expires_ms": self.ack_expires_ms,
            "resolved_by": self.resolved_by,
            "resolved_ms": self.resolved_ms,
            "incident_id": self.incident_id,
            "incident_opened_ms": self.incident_opened_ms,
            "alerts": self.alerts,
            "timeline": self.timeline,
        }


@dataclass(frozen=True)
class Page:
    """Receivers to tell about a group now, because an escalation stage says so."""

    escalation: Escalation
    receivers: tuple[str, ...]
    label: str
    opened_incident: bool = False


class EscalationError(ValueError):
    """An action that does not apply (acknowledging a resolved escalation ...), or an
    unreadable record."""


def escalation_id(group_key: str, started_ms: int) -> str:
    """Stable for one episode of one group, different for the next episode."""
    return hashlib.sha256(f"{group_key}\n{started_ms}".encode()).hexdigest()[:16]


class EscalationBook:
    """Every open escalation, by group key."""

    def __init__(self, policies: Mapping[str, Policy]) -> None:
        self.policies = dict(policies)
        self.escalations: dict[str, Escalation] = {}

    def __len__(self) -> int:
        return len(self.escalations)

    def get(self, group_key: str) -> Escalation | None:
        return self.escalations.get(group_key)

    def by_id(self, ident: str) -> Escalation | None:
        """By escalation id or incident id."""
        for esc in self.escalations.values():
            if ident in (esc.id, esc.incident_id):
                return esc
        return None

    def start(self, group_key: str, policy: str, now_ms: int) -> tuple[Escalation, Page]:
        esc = Escalation(escalation_id(group_key, now_ms), group_key, policy, now_ms)
        esc.note(now_ms, "triggered", policy=policy)
        self.escalations[group_key] = esc
        page = self._execute(esc, 0, now_ms)
        assert page is not None
        return esc, page

    def next_deadline_ms(self) -> int | None:
        due = [e.next_ms for e in self.escalations.values() if e.next_ms is not None]
        return min(due, default=None)

    def due(self, now_ms: int) -> list[Escalation]:
        return [
            e for e in self.escalations.values() if e.next_ms is not None and e.next_ms <= now_ms
        ]

    def advance(self, esc: Escalation, now_ms: int) -> Page | None:
        """Do what is due for ``esc`` at ``now_ms``: the next stage, or the end of an ack."""
        policy = self.policies.get(esc.policy)
        if policy is None or esc.status == RESOLVED:
            esc.next_ms = None
            return None
        if esc.status == ACKNOWLEDGED:
            if esc.ack_expires_ms is None or now_ms < esc.ack_expires_ms:
                esc.next_ms = esc.ack_expires_ms
                return None
            esc.status = TRIGGERED
            esc.note(now_ms, "ack_expired", acked_by=esc.acked_by)
            esc.acked_by, esc.acked_ms, esc.ack_expires_ms = "", None, None
            return self._execute(esc, max(esc.stage, 0), now_ms, again=True)
        if esc.next_ms is None or now_ms < esc.next_ms:
            return None
        if esc.stage + 1 >= policy.stages:
            esc.next_ms = None  # every stage ran; nobody acknowledged
            return None
        return self._execute(esc, esc.stage + 1, now_ms)

    def defer(self, esc: Escalation, until_ms: int, why: str) -> None:
        """Postpone what is due (every alert of the group is muted right now)."""
        if esc.next_ms is not None and esc.next_ms < until_ms:
            esc.next_ms = until_ms
            esc.note(until_ms, "deferred", why=why)

    def ack(self, esc: Escalation, by: str, now_ms: int, comment: str = "") -> None:
        if esc.status == RESOLVED:
            raise EscalationError(f"escalation {esc.id} is resolved already")
        policy = self.policies.get(esc.policy)
        timeout = policy.ack_timeout_s if policy else None
        esc.status = ACKNOWLEDGED
        esc.acked_by, esc.acked_ms = by, now_ms
        esc.ack_expires_ms = now_ms + int(timeout * 1000) if timeout else None
        esc.next_ms = esc.ack_expires_ms
        esc.note(now_ms, "acknowledged", by=by, **({"comment": comment} if comment else {}))

    def resolve(self, esc: Escalation, by: str, now_ms: int, comment: str = "") -> None:
        if esc.status == RESOLVED:
            raise EscalationError(f"escalation {esc.id} is resolved already")
        esc.status, esc.resolved_by, esc.resolved_ms, esc.next_ms = RESOLVED, by, now_ms, None
        esc.note(now_ms, "resolved", by=by, **({"comment": comment} if comment else {}))

    def finish(self, esc: Escalation, now_ms: int) -> Escalation:
        """Every alert of the group resolved: the episode is over and forgotten."""
        if esc.status != RESOLVED:
            esc.status, esc.resolved_by, esc.resolved_ms = RESOLVED, "alerts resolved", now_ms
            esc.note(now_ms, "resolved", by="alerts resolved")
        esc.next_ms = None
        self.escalations.pop(esc.group_key, None)
        return esc

    def track(self, esc: Escalation, alerts: Iterable[Alert]) -> None:
        """Remember the group's alerts for the record (latest state of each)."""
        for alert in alerts:
            esc.alerts[alert.fingerprint] = {
                "status": alert.status,
                "labels": dict(alert.labels),
                "starts_ms": alert.starts_at_ms,
            }
        if len(esc.alerts) > MAX_ALERTS:
            for fp in list(esc.alerts)[: len(esc.alerts) - MAX_ALERTS]:
                del esc.alerts[fp]

    def _execute(
        self, esc: Escalation, stage: int, now_ms: int, again: bool = False
    ) -> Page | None:
        policy = self.policies[esc.policy]
        step, label, opens = policy.stage(stage)
        esc.stage, esc.stage_label = stage, label
        for receiver in step.notify:
            esc.pages[receiver] = now_ms
        last = stage + 1 >= policy.stages
        esc.next_ms = None if last else now_ms + int(step.wait_s * 1000)
        opened = False
        if opens and not esc.incident_id:
            esc.incident_id, esc.incident_opened_ms, opened = f"inc-{esc.id}", now_ms, True
            esc.note(now_ms, "incident_opened", incident=esc.incident_id)
        esc.note(
            now_ms,
            "paged_again" if again else "escalated",
            stage=label,
            receivers=list(step.notify),
        )
        return Page(esc, step.notify, label, opened)

    # -- the compacted topic -------------------------------------------------------------

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        group_key = (key or b"").decode(errors="replace")
        if value is None:
            self.escalations.pop(group_key, None)
            return
        esc = decode(value)
        if esc.group_key != group_key:
            raise EscalationError(f"record key {group_key!r} does not match its escalation")
        self.escalations[group_key] = esc


def encode(esc: Escalation) -> bytes:
    return json.dumps({"v": FORMAT_VERSION, **esc.to_json()}, separators=(",", ":")).encode()


def decode(value: bytes) -> Escalation:
    try:
        raw = json.loads(value)
        if raw.get("v") != FORMAT_VERSION:
            raise EscalationError(f"format version {raw.get('v')!r}, expected {FORMAT_VERSION}")
        raw.pop("v")
        raw["pages"] = {str(k): int(v) for k, v in raw["pages"].items()}
        return Escalation(**raw)
    except EscalationError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise EscalationError(f"unreadable escalation: {type(exc).__name__}: {exc}") from None
