"""Disaster recovery: the two drills of ``watchkeeper drill`` and the guard's cost.

* failover drill: cluster a (mirrored to b by MirrorMaker 2) killed mid-stream; RTO is a's
  death to the first alert delivered from b, RPO what a had acknowledged and b lacks;
* restore drill: the only cluster lost, a fresh one restored from a backup; its RTO;
* the degraded-mode guard (``watchkeeper.continuity``) around a healthy model: its
  overhead per call beside the bare call, measured interleaved in one run.

The drills start their own clusters (the run's broker is not used). Goals: RPO ≤ 5 s,
RTO ≤ 60 s, guard overhead ≤ 5 µs median. Writes ``loadtest/results/dr.json`` with
rto_s, rpo_events, rpo_s, restore_rto_s, guard_overhead_median_us, guard_overhead_p99_us
and the parts behind them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from watchkeeper.drill import failover_drill, restore_drill

from .bench_continuity import measure_guard_overhead
from .harness import write_results

GOALS = {"rto_s": 60.0, "restore_rto_s": 60.0, "rpo_s": 5.0, "guard_overhead_median_us": 5.0}


def run(bootstrap: str) -> None:
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="wk-dr-") as tmp:
        figures |= failover_drill(Path(tmp) / "failover").as_json()
        figures |= restore_drill(Path(tmp) / "restore").as_json()
    figures |= measure_guard_overhead()
    print("\n   figure                         value     goal")
    for key, goal in GOALS.items():
        value = figures.get(key)
        shown = "none" if value is None else f"{value:.2f}"
        verdict = "" if value is None else ("met" if value <= goal else "MISSED")
        print(f"   {key:<28} {shown:>8}  ≤ {goal:g}  {verdict}")
    print(f"   wrote {write_results('dr', figures)}")
