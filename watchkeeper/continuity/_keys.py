"""Stable, cheap cache keys for features: the same features give the same key in every
process of one Python version (no ``hash()``, whose salt changes per process), whatever
the order of the keys.

>>> feature_key({"amount": 12.5, "country": "FR"})
'3e5aa70bd88af7661639455059414fbd'
>>> feature_key({"country": "FR", "amount": 12.5}) == feature_key({"amount": 12.5, "country": "FR"})
True
>>> feature_key({"when": object()})
Traceback (most recent call last):
...
watchkeeper.continuity._keys.Unkeyable: cannot key a object stably: pass key= to the guard
"""

from __future__ import annotations

import marshal
from collections.abc import Mapping
from hashlib import blake2b
from typing import Any

# Version 2 of marshal writes floats in binary and keeps no references between equal
# objects, so equal values give equal bytes; it is ~3x faster than repr() of the floats.
_MARSHAL = 2
_EXACT = (str, int, float, bool, bytes, type(None))
_FLAT = frozenset(_EXACT)
_MAP = "<map>"  # a mapping and a list of pairs must not share a key


class Unkeyable(TypeError):
    """Features the cache cannot key stably (an object whose repr is its address, ...)."""


def _canon(value: Any) -> Any:
    # Only types that are a function of their value; anything else would give a key that
    # differs between processes (a cache that never hits) or, worse, a false hit.
    if type(value) in _EXACT:
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
        return (_MAP, pairs)  # the fast path's shape, so both give one key
    if isinstance(value, list | tuple):
        return tuple(_canon(v) for v in value)
    if isinstance(value, set | frozenset):
        return ("<set>", *sorted(repr(_canon(v)) for v in value))
    raise Unkeyable(f"cannot key a {type(value).__name__} stably: pass key= to the guard")


def feature_key(features: Any) -> str:
    """A 128-bit blake2b hex digest of the features; raises :class:`Unkeyable`."""
    return feature_digest(features).hex()


def feature_digest(features: Any) -> bytes:
    """The same 16 bytes as :func:`feature_key`, without the hex (the cache's own keys)."""
    data: bytes | None = None
    if type(features) is dict and _FLAT.issuperset(map(type, features.values())):
        try:  # the fast path: a flat dict of plain values
            data = marshal.dumps((_MAP, sorted(features.items())), _MARSHAL)
        except TypeError:  # keys of mixed types
            data = None
    if data is None:
        data = marshal.dumps(_canon(features), _MARSHAL)
    return blake2b(data, digest_size=16).digest()
