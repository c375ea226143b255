"""Escalation policies as plain arithmetic on "now": stages, repeats, acknowledgement and
its timeout, resolution, and the record that survives a restart."""

from __future__ import annotations

import pytest

from services.router.escalation import (
    ACKNOWLEDGED,
    RESOLVED,
    TRIGGERED,
    EscalationBook,
    EscalationError,
    Policy,
    Step,
    decode,
    encode,
)

MIN = 60_000
POLICY = Policy(
    "p",
    (Step(("a",), 300.0), Step(("b",), 300.0)),
    repeat=1,
    ack_timeout_s=600.0,
    incident=Step(("ic",)),
)


def run_until_quiet(book: EscalationBook, esc, until_ms: int) -> list[tuple[int, tuple, str]]:
    pages = []
    for now in range(0, until_ms + 1, MIN // 2):
        for due in book.due(now):
            page = book.advance(due, now)
            if page:
                pages.append((now // MIN, page.receivers, page.label))
    return pages


def test_steps_repeat_then_open_the_incident_then_stop() -> None:
    book = EscalationBook({"p": POLICY})
    esc, first = book.start("g", "p", now_ms=0)
    assert (first.receivers, first.label) == (("a",), "1/2")
    pages = run_until_quiet(book, esc, 60 * MIN)
    assert pages == [
        (5, ("b",), "2/2"),
        (10, ("a",), "1/2 (repeat 1)"),
        (15, ("b",), "2/2 (repeat 1)"),
        (20, ("ic",), "incident"),
    ]
    assert esc.incident_id == f"inc-{esc.id}" and esc.next_ms is None
    assert esc.pages == {"a": 10 * MIN, "b": 15 * MIN, "ic": 20 * MIN}


def test_an_ack_stops_stages_until_it_times_out_then_the_current_step_pages_again() -> None:
    book = EscalationBook({"p": POLICY})
    esc, _ = book.start("g", "p", now_ms=0)
    book.ack(esc, "alice", now_ms=2 * MIN)
    assert (esc.status, esc.next_ms) == (ACKNOWLEDGED, 12 * MIN)
    assert book.advance(esc, 11 * MIN) is None
    again = book.advance(esc, 12 * MIN)
    assert (again.receivers, again.label, esc.status) == (("a",), "1/2", TRIGGERED)
    assert esc.next_ms == 17 * MIN and esc.acked_by == ""
    events = [e["event"] for e in esc.timeline]
    assert events == ["triggered", "escalated", "acknowledged", "ack_expired", "paged_again"]


def test_resolved_is_final_and_the_record_round_trips() -> None:
    book = EscalationBook({"p": POLICY})
    esc, _ = book.start("g", "p", now_ms=0)
    book.resolve(esc, "bob", now_ms=MIN, comment="fixed")
    assert (esc.status, esc.next_ms, esc.resolved_by) == (RESOLVED, None, "bob")
    with pytest.raises(EscalationError):
        book.ack(esc, "alice", now_ms=2 * MIN)
    restored = EscalationBook({"p": POLICY})
    restored.apply(b"g", encode(esc))
    assert restored.get("g").to_json() == esc.to_json()
    restored.apply(b"g", None)
    assert restored.get("g") is None
    with pytest.raises(EscalationError):
        decode(b'{"v": 1, "id": 3}')
