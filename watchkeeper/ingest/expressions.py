"""Expressions of ``derive`` and ``filter`` steps: simpleeval, never ``eval``.

An expression is parsed once, when the transformation file is loaded (a syntax error or a
name that is not a column, function or constant is caught then, with its line), and
evaluated per row with the row's columns as names. Only the functions in ``FUNCTIONS``
can be called; attribute access to private names, imports, lambdas and comprehensions
are refused by simpleeval.

>>> e = Expression.parse("amount * 0.92 if currency == 'USD' else amount")
>>> e.evaluate({"amount": 100.0, "currency": "USD"})
92.0
>>> Expression.parse("round(latency / 1000, 3)").evaluate({"latency": 1234})
1.234
>>> Expression.parse("__import__('os')").evaluate({})
Traceback (most recent call last):
...
ValueError: cannot evaluate: Function '__import__' not defined, for expression '__import__('os')'.
>>> Expression.parse("amount +")
Traceback (most recent call last):
...
ValueError: not an expression: invalid syntax
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from typing import Any

from simpleeval import EvalWithCompoundTypes, InvalidExpression

FUNCTIONS: dict[str, Any] = {
    "abs": abs,
    "min": min,
    "max": max,
    "round": round,
    "len": len,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "strip": lambda s: str(s).strip(),
    "log": math.log,
    "sqrt": math.sqrt,
    "isnan": lambda x: isinstance(x, float) and x != x,
    "coalesce": lambda *xs: next((x for x in xs if x is not None and x != ""), None),
}
CONSTANTS = {"None": None, "True": True, "False": False, "null": None, "nan": math.nan}


@dataclass(frozen=True)
class Expression:
    text: str
    tree: ast.AST
    evaluator: EvalWithCompoundTypes = field(
        default_factory=lambda: EvalWithCompoundTypes(functions=FUNCTIONS),
        compare=False,
        repr=False,
    )

    @classmethod
    def parse(cls, text: str) -> Expression:
        """Parse ``text``; ``ValueError`` with the reason when it is not an expression."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("an expression must be non-empty text")
        try:
            tree = EvalWithCompoundTypes().parse(text.strip())
        except SyntaxError as exc:
            raise ValueError(f"not an expression: {exc.msg}") from None
        return cls(text.strip(), tree)

    def names(self) -> set[str]:
        """The names it reads (columns, functions, constants)."""
        return {n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name)}

    def evaluate(self, row: dict[str, Any]) -> Any:
        """Its value for ``row``; ``ValueError`` naming what went wrong (a missing column,
        a division by zero, a wrong type)."""
        # One evaluator per expression, its names swapped per row: building one per row
        # costs more than the evaluation.
        evaluator = self.evaluator
        evaluator.names = {**CONSTANTS, **row}
        try:
            return evaluator.eval(self.text, previously_parsed=self.tree)
        except InvalidExpression as exc:
            raise ValueError(f"cannot evaluate: {exc}") from None
        except (ArithmeticError, TypeError, ValueError, KeyError, IndexError) as exc:
            raise ValueError(
                f"cannot evaluate {self.text!r}: {type(exc).__name__}: {exc}"
            ) from None
