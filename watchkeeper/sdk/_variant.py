"""Which version and variant serve a request (``Emitter.assign``), and how that answer
lands on the prediction events the request produces.

>>> from ._assignment import Split, Variant
>>> split = Split("fraud", (Variant("baseline", "3.1.0", 95.0), Variant("canary", "3.2.0", 5.0)),
...               seq=7)
>>> assignment_for(split, "fraud", "user-42", default_version="3.0.0")
Assignment(model='fraud', version='3.1.0', variant='baseline', seq=7)
>>> assignment_for(None, "fraud", "user-42", default_version="3.0.0")
Assignment(model='fraud', version='3.0.0', variant='default', seq=0)

An assignment fills in what the caller left out, and refuses what contradicts it:

>>> chosen = Assignment("fraud", "3.2.0", "canary", 7)
>>> resolve(chosen, model=None, version=None, variant=None)
('fraud', '3.2.0', 'canary')
>>> resolve(chosen, model="fraud", version="3.1.0", variant=None)
Traceback (most recent call last):
...
ValueError: version='3.1.0' contradicts the assignment's version '3.2.0' (leave it out)
>>> resolve(None, model="fraud", version="3", variant=None)
('fraud', '3', 'default')
"""

from __future__ import annotations

from typing import NamedTuple

from ._assignment import Split

DEFAULT_VARIANT = "default"


class Assignment(NamedTuple):
    """The answer of ``Emitter.assign``: serve ``version`` as ``variant``.

    ``seq`` is the split's sequence number (0: no split known, the caller's default).
    ``version`` is None only when no split is known and no default version was given.
    """

    model: str
    version: str | None
    variant: str
    seq: int


def assignment_for(
    split: Split | None, model: str, key: str, default_version: str | None = None
) -> Assignment:
    if split is None:
        return Assignment(model, default_version, DEFAULT_VARIANT, 0)
    chosen = split.assign(key)
    return Assignment(model, chosen.version, chosen.name, split.seq)


def check_key(key: object) -> str:
    """The routing key as text; None, "" or a non-text key is refused by name.

    >>> check_key("user-42"), check_key(42)
    ('user-42', '42')
    >>> check_key("")
    Traceback (most recent call last):
    ...
    ValueError: assign: key must be a non-empty string (a user or session id), got ''
    """
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    if not isinstance(key, str) or not key:
        raise ValueError(
            f"assign: key must be a non-empty string (a user or session id), got {key!r}"
        )
    return key


def resolve(
    assignment: Assignment | None,
    model: str | None,
    version: str | None,
    variant: str | None,
) -> tuple[str | None, str | None, str]:
    """(model, version, variant) for an event, from explicit fields and ``assignment``."""
    if assignment is None:
        return model, version, variant if variant is not None else DEFAULT_VARIANT
    if not isinstance(assignment, Assignment):
        raise ValueError(f"assignment must be an Assignment (from assign), got {assignment!r}")
    for name, given, assigned in (
        ("model", model, assignment.model),
        ("version", version, assignment.version),
        ("variant", variant, assignment.variant),
    ):
        # An assignment without a version (no split, no default) leaves it to the caller.
        if given is not None and assigned is not None and given != assigned:
            raise ValueError(
                f"{name}={given!r} contradicts the assignment's {name} {assigned!r} (leave it out)"
            )
    return (
        model if model is not None else assignment.model,
        version if version is not None else assignment.version,
        variant if variant is not None else assignment.variant,
    )
