"""CI/CD gates: ``watchkeeper gate validate|staging|rollout|watch``.

Each gate decides pass or fail, prints a small table (:mod:`.report`), exits 0 (pass),
1 (fail) or 2 (bad usage or input), and, given a registry, records its result on the
model version as a validation (``validator: gate:<name>``): the latest validation is
what the registry's alias gate reads. One module per gate; :mod:`.cli` wires them.
"""

from .report import GateResult, UsageError

__all__ = ["GateResult", "UsageError"]
