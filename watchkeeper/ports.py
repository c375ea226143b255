"""Free TCP ports for the servers that tests, benchmarks and the demo start.

Binding port 0 and handing the number on (what most test suites do) has a race that bites
on a busy machine: the kernel takes outgoing connections' local ports from the same
ephemeral range, so between the probe and the server's own ``bind`` a Kafka client's
connection can take the port ("address already in use"). We pick below the ephemeral
range instead, where the kernel never assigns ports by itself, and never hand out the
same port twice in one process.
"""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10_000
_given: set[int] = set()
_lock = threading.Lock()


def ephemeral_range(path: Path = _RANGE_FILE) -> tuple[int, int]:
    """The kernel's range for outgoing connections' ports (the Linux default elsewhere).

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", delete=False) as f:
    ...     _ = f.write("32768\\t60999\\n")
    >>> ephemeral_range(Path(f.name)); os.unlink(f.name)
    (32768, 60999)
    """
    try:
        low, high = (int(part) for part in path.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999
    return low, high


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on and the kernel will not give away.

    >>> port = free_port()
    >>> _LOWEST <= port < ephemeral_range()[0] or port >= 1024
    True
    >>> port != free_port()
    True
    """
    low = ephemeral_range()[0]
    with _lock:
        if low - _LOWEST > 1000:
            for _ in range(200):
                port = random.randrange(_LOWEST, low)
                if port not in _given and _bindable(port):
                    _given.add(port)
                    return port
        # An unusual range leaves no room below it: fall back to the kernel's choice.
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        _given.add(port)
        return port
