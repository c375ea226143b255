"""What every emitter of a process shares: one codec, and logs that repeat themselves at
most once a minute (a broker that is away is reported again at every reconnect attempt;
the log must not drown the service).

>>> quiet = Quiet()
>>> [quiet.allow("no_topic") for _ in range(3)]
[True, False, False]
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ..codec import Codec

_codec_lock = threading.Lock()
_shared_codec: Codec | None = None


def default_codec() -> Codec:
    global _shared_codec
    with _codec_lock:
        if _shared_codec is None:
            _shared_codec = Codec()
        return _shared_codec


class Quiet:
    """Lets each kind of message through at most once per ``every_s``."""

    def __init__(self, every_s: float = 60.0) -> None:
        self._every_s = every_s
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def allow(self, kind: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(kind, -self._every_s) < self._every_s:
                return False
            self._last[kind] = now
            return True

    def warn(self, log: logging.Logger, kind: str, message: str, *args: Any) -> None:
        if self.allow(kind):
            log.warning(message, *args, extra={"code": kind})


class _OncePerMinute(logging.Filter):
    """librdkafka repeats the same complaint at every reconnect attempt: say it once a minute."""

    def __init__(self) -> None:
        super().__init__()
        self._quiet = Quiet()

    def filter(self, record: logging.LogRecord) -> bool:
        return self._quiet.allow(str(record.msg).split(" ", 1)[0])


librdkafka_log = logging.getLogger("watchkeeper.sdk.librdkafka")
librdkafka_log.addFilter(_OncePerMinute())
