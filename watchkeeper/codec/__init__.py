"""Event contracts on the wire: Avro single-object encoding over ``watchkeeper/schemas/``."""

from ._codec import HEADER_SIZE, MAGIC, Codec, Decoded
from ._compat import incompatibilities
from ._registry import SchemaRegistry, SchemaVersion
from .errors import KINDS, EventError

__all__ = [
    "HEADER_SIZE",
    "KINDS",
    "MAGIC",
    "Codec",
    "Decoded",
    "EventError",
    "SchemaRegistry",
    "SchemaVersion",
    "incompatibilities",
]
