"""A stand-in service for the supervision tests: it exits with code 3 the first
``CRASHES`` times it is started (counted in ``COUNT_FILE``), then serves ``/healthz`` until
SIGTERM, like a service whose dependency came back."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from watchkeeper.runtime.http import Health, ServiceHTTP


def main() -> int:
    counter = Path(os.environ["COUNT_FILE"])
    starts = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(starts))
    if starts <= int(os.environ["CRASHES"]):
        return 3
    health = Health("crashloop")
    health.ready()
    http = ServiceHTTP(health, port=int(os.environ["WK_HTTP_PORT"])).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    http.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
