"""Disaster-recovery drills that measure what the docs promise: RTO and RPO.

``watchkeeper drill`` runs both on this machine with real brokers, MirrorMaker 2, the
services and traffic; ``make bench BENCH=dr`` runs them as a benchmark.
"""

from ._rpo import RecoveryPoint, recovery_point
from .failover import FailoverResult, failover_drill
from .restore import RestoreResult, restore_drill

__all__ = [
    "FailoverResult",
    "RecoveryPoint",
    "RestoreResult",
    "failover_drill",
    "recovery_point",
    "restore_drill",
]
