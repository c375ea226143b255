"""Is a training dataset's quality gate open? Its latest ``GateState`` on the compacted
``gates`` topic (keyed by gate name, written by the quality service) says: open when
UNBLOCKED, closed when BLOCKED. A gate with no state yet is *unknown*; the caller decides
whether that passes (``--unknown-gate pass``) or fails (the default).

>>> verdict({"state": "BLOCKED", "reasons": [{"check": "completeness", "value": 0.5,
...          "threshold": 0.99, "detail": "amount missing"}]}, unknown_passes=False)
(False, 'blocked: completeness 0.5 < 0.99 (amount missing)')
>>> verdict(None, unknown_passes=False)
(False, 'unknown: no state on the gates topic yet')
"""

from __future__ import annotations

from typing import Any

from ..settings import KafkaSettings


def latest_states(kafka: KafkaSettings, topic: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """Gate name -> its latest GateState (committed records only; tombstones remove)."""
    from ..codec import Codec
    from ..runtime import compacted

    codec = Codec()
    found: dict[str, Any] = {}
    for record in compacted.read(kafka, topic, timeout_s):
        if record.key is None:
            continue
        name = record.key.decode(errors="replace")
        if record.value is None:
            found.pop(name, None)
        else:
            found[name] = codec.decode_as("GateState", record.value)
    return found


def verdict(state: dict[str, Any] | None, unknown_passes: bool) -> tuple[bool, str]:
    if state is None:
        return unknown_passes, "unknown: no state on the gates topic yet"
    if state["state"] == "UNBLOCKED":
        return True, "unblocked"
    why = "; ".join(
        f"{r['check']} {r['value']:.3g} < {r['threshold']:.3g}"
        + (f" ({r['detail']})" if r.get("detail") else "")
        if r.get("value") is not None
        else f"{r['check']} ({r.get('detail', '')})"
        for r in state.get("reasons") or []
    )
    return False, "blocked" + (f": {why}" if why else "")
