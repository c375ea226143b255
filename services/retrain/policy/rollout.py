"""A policy's ``rollout``: the rollout service's body without the model and the versions
(the run fills those in), checked by that service's schema and planner."""

from __future__ import annotations

from typing import Any

from watchkeeper.yamlconf import ConfigFileError, Mapping

from ._read import plain

DEFAULT_ROLLOUT: dict[str, Any] = {"strategy": "canary", "steps": [10, 50, 100]}
# Filled by the run: the model, the champion (baseline) and the candidate.
_BY_RUN = ("model", "baseline", "candidate", "variants", "experiment")


def _line_at(doc: Mapping, path: list[Any]) -> int:
    """The line of the deepest key of ``path`` (a jsonschema error's) in the document."""
    node: Any = doc
    line = doc.line
    for step in path:
        if isinstance(node, Mapping) and step in node:
            line, node = node.line_of(step), node[step]
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
            line = getattr(node, "line", line) or line
        else:
            break
    return line


def parse(doc: Mapping) -> dict[str, Any]:
    """The rollout body without model and versions, checked as the rollout service would:
    its JSON schema, then its planner on a dummy model, baseline and candidate."""
    import jsonschema

    from services.rollout import bodies
    from services.rollout.plan import plan
    from watchkeeper.control import Rejected

    taken = [key for key in _BY_RUN if key in doc]
    if taken:
        raise doc.error(taken[0], f"rollout: {taken[0]} is set by the run, not the policy")
    body = plain(doc)
    body.setdefault("strategy", "canary")
    if body["strategy"] not in ("canary", "bluegreen"):
        # An A/B test compares; a retrained candidate is meant to replace its champion.
        raise doc.error("strategy", "rollout.strategy must be canary or bluegreen, "
                                    f"not {body['strategy']!r}")  # fmt: skip
    if body["strategy"] == "canary":
        body.setdefault("steps", list(DEFAULT_ROLLOUT["steps"]))
    full = {**body, "model": "dummy", "baseline": "1", "candidate": "2"}
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(bodies.ROLLOUT_CREATE).iter_errors(full)
    )
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        line = _line_at(doc, list(error.absolute_path))
        where = f"rollout.{where}" if where else "rollout"
        raise ConfigFileError(doc.source, line, f"{where}: {error.message}")
    try:
        plan(full)
    except Rejected as exc:
        # The planner's reasons start with the key they are about (steps, checks, hooks).
        key = next((k for k in doc if exc.reason.startswith(k)), None)
        line = doc.line_of(key) if key else doc.line
        raise ConfigFileError(doc.source, line, f"rollout: {exc.reason}") from None
    return body
