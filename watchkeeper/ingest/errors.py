"""The two ways an ingest goes wrong: the whole input refused (``InputError``, exit 2,
``file:line: reason``), or one row refused (``RowError``, a dead letter with its reason).

>>> str(InputError("data.csv", 3, "not UTF-8 text"))
'data.csv:3: not UTF-8 text'
>>> RowError("cast", "amount: cannot read 'x' as float").kind
'cast'
"""

from __future__ import annotations


class InputError(ValueError):
    """A file (data, mapping, transformation, contract) that cannot be ingested at all."""

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}" if line else f"{source}: {reason}")
        self.source, self.line, self.reason = source, line, reason


class RowError(ValueError):
    """One row that cannot become an event; ``kind`` is the summary's bucket and the
    dead letter's ``dlq.error.kind`` (cast, expression, hook, mapping, schema, contract,
    shape)."""

    def __init__(self, kind: str, message: str, original: object = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.original = original  # what the file had, when the row never became a dict
