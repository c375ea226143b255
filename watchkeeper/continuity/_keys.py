"""Stable, cheap cache keys for features: the same features give the same key in every
process of one Python version (no ``hash()``, whose salt changes per process), whatever
the order of the keys.

The cache itself is keyed by the canonical bytes (:func:`canonical`): a dict lookup on
them is exact (no false hit is possible) and skips a hash function on the hot path.
:func:`feature_key` is their blake2b digest, for events (``input_hash``) and logs.

>>> feature_key({"amount": 12.5, "country": "FR"})
'41182a65918377e766918b08ecd9934e'
>>> canonical({"country": "FR", "amount": 12.5}) == canonical({"amount": 12.5, "country": "FR"})
True
>>> feature_key({"when": object()})
Traceback (most recent call last):
...
watchkeeper.continuity._keys.Unkeyable: cannot key a object stably: pass key= to the guard
"""

from __future__ import annotations

import marshal
import operator
from collections.abc import Callable, Mapping
from hashlib import blake2b
from typing import Any

# Version 2 of marshal writes floats in binary and keeps no references between equal
# objects, so equal values give equal bytes; it is several times faster than repr().
_MARSHAL = 2
_EXACT = (str, int, float, bool, bytes, type(None))
_FLAT = frozenset(_EXACT)
_MAP = "<map>"  # a mapping and a list of pairs must not share a key


class Unkeyable(TypeError):
    """Features the cache cannot key stably (an object whose repr is its address, ...)."""


def _canon(value: Any) -> Any:
    # Only types that are a function of their value; anything else would give a key that
    # differs between processes (a cache that never hits) or, worse, a false hit.
    if type(value) in _FLAT:
        return value
    if isinstance(value, bool | int):  # numpy ints, IntEnum: their value
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        pairs = [(_canon(k), _canon(v)) for k, v in value.items()]
        try:
            pairs.sort()
        except TypeError:  # keys of mixed types: an order that does not compare them
            pairs.sort(key=lambda kv: (type(kv[0]).__name__, repr(kv[0])))
        # The fast path's shape, so both give one key.
        return (_MAP, tuple(k for k, _ in pairs), tuple(v for _, v in pairs))
    if isinstance(value, list | tuple):
        return tuple(_canon(v) for v in value)
    if isinstance(value, set | frozenset):
        return ("<set>", *sorted(repr(_canon(v)) for v in value))
    raise Unkeyable(f"cannot key a {type(value).__name__} stably: pass key= to the guard")


def _plan(order: tuple[Any, ...]) -> tuple[tuple[Any, ...], Callable[[Any], tuple]] | None:
    """For one order of keys: the keys sorted, and a getter of the values in that order."""
    try:
        keys = tuple(sorted(order))
    except TypeError:  # keys of mixed types: the slow path
        return None
    if len(keys) == 1:
        only = keys[0]
        return keys, lambda d: (d[only],)
    return keys, (operator.itemgetter(*keys) if keys else lambda d: ())


# Key orders seen (a model's feature dicts nearly always come in one or a few): sorting
# and building the getter once per order, not per call, halves the cost of a key.
_PLANS: dict[tuple[Any, ...], Any] = {}
_MAX_PLANS = 256


def canonical(features: Any) -> bytes:
    """The features as bytes that depend on their values only; raises :class:`Unkeyable`."""
    if type(features) is dict:
        order = tuple(features)
        plan = _PLANS.get(order, _PLANS)
        if plan is _PLANS:
            if len(_PLANS) >= _MAX_PLANS:
                _PLANS.clear()  # a client inventing keys must not grow memory
            plan = _PLANS[order] = _plan(order)
        if plan is not None:
            keys, getter = plan
            values = getter(features)
            # Nested containers could hold dicts or sets, whose bytes follow their order.
            # Keys need no check: marshal refuses anything but builtin types (ValueError).
            if _FLAT.issuperset(map(type, values)):
                try:
                    return marshal.dumps((_MAP, keys, values), _MARSHAL)
                except ValueError:
                    pass
    return marshal.dumps(_canon(features), _MARSHAL)


def digest(data: bytes) -> str:
    return blake2b(data, digest_size=16).hexdigest()


def feature_key(features: Any) -> str:
    """A 128-bit blake2b hex digest of :func:`canonical`; raises :class:`Unkeyable`."""
    return digest(canonical(features))
