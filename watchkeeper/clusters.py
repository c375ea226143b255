"""The list of clusters to fail over between, and when to switch: no Kafka client here.

``WK_KAFKA_CLUSTERS`` names the clusters separated by ``;`` (the first is the primary; each
may be a comma list of brokers); without it ``KAFKA_BOOTSTRAP_SERVERS`` is a list of one.
``WK_FAILOVER_AFTER_S`` (default 10) is how long the active cluster must stay unreachable
before a switch; ``WK_FAILBACK_AFTER_S`` (default 30) how long the primary must stay
reachable before the SDK goes back to it. SASL/SSL settings (``KAFKA_*``) apply to all.

>>> parse_clusters("a:9092,a2:9092; b:9092")
('a:9092,a2:9092', 'b:9092')
>>> parse_clusters("a:9092;;b:9092")
Traceback (most recent call last):
...
watchkeeper.settings.ConfigError: WK_KAFKA_CLUSTERS: cluster 2 of 3 is empty
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .settings import DEFAULT_BOOTSTRAP, ConfigError, env_float, env_str

CLUSTERS_VAR = "WK_KAFKA_CLUSTERS"
FAILOVER_VAR = "WK_FAILOVER_AFTER_S"
FAILBACK_VAR = "WK_FAILBACK_AFTER_S"
DEFAULT_FAILOVER_S = 10.0
DEFAULT_FAILBACK_S = 30.0


def parse_clusters(text: str, name: str = CLUSTERS_VAR) -> tuple[str, ...]:
    """Bootstrap strings from ``a1,a2;b1``: each a non-empty comma list of host:port."""
    parts = [p.strip() for p in text.split(";")]
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()  # a trailing ";" is harmless
    result = []
    for i, part in enumerate(parts, 1):
        if not part:
            raise ConfigError(f"{name}: cluster {i} of {len(parts)} is empty")
        brokers = [b.strip() for b in part.split(",")]
        for broker in brokers:
            host, sep, port = broker.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError(f"{name}: {broker!r} in cluster {i} is not host:port")
        result.append(",".join(brokers))
    if len(set(result)) != len(result):
        raise ConfigError(f"{name}: a cluster is listed twice: {text!r}")
    return tuple(result)


def _seconds(name: str, default: float) -> float:
    value = env_float(name, default)
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")
    return value


@dataclass(frozen=True)
class Clusters:
    """The clusters in order of preference, and the two delays.

    >>> c = Clusters(("a:1", "b:2"))
    >>> c.index("b:2"), c.failover_after_s, c.multiple
    (1, 10.0, True)
    """

    bootstraps: tuple[str, ...]
    failover_after_s: float = DEFAULT_FAILOVER_S
    failback_after_s: float = DEFAULT_FAILBACK_S

    def __post_init__(self) -> None:
        if not self.bootstraps:
            raise ConfigError(f"{CLUSTERS_VAR}: no cluster")
        for name, value in (
            (FAILOVER_VAR, self.failover_after_s),
            (FAILBACK_VAR, self.failback_after_s),
        ):
            if not value > 0:
                raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")

    @property
    def multiple(self) -> bool:
        return len(self.bootstraps) > 1

    def index(self, bootstrap: str) -> int:
        """The position of ``bootstrap`` (spaces ignored); ValueError if not listed."""
        return self.bootstraps.index(",".join(b.strip() for b in bootstrap.split(",")))

    @classmethod
    def from_env(cls, bootstrap: str | None = None) -> Clusters:
        """``WK_KAFKA_CLUSTERS``, else ``bootstrap`` (or ``KAFKA_BOOTSTRAP_SERVERS``) alone."""
        listed = env_str(CLUSTERS_VAR)
        if listed is not None:
            bootstraps = parse_clusters(listed)
        else:
            one = bootstrap or env_str("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP)
            bootstraps = parse_clusters(one or DEFAULT_BOOTSTRAP, "KAFKA_BOOTSTRAP_SERVERS")
        return cls(
            bootstraps,
            _seconds(FAILOVER_VAR, DEFAULT_FAILOVER_S),
            _seconds(FAILBACK_VAR, DEFAULT_FAILBACK_S),
        )


def configured() -> bool:
    """Whether this process was given more than one cluster (cheap: reads the env only)."""
    listed = os.environ.get(CLUSTERS_VAR, "")
    return ";" in listed.strip().rstrip(";")


@dataclass
class SwitchPolicy:
    """When to leave the active cluster, fed with probe results and a clock (seconds).

    The active cluster is left once it has been unreachable for ``failover_after_s``
    without a break, for the next one (in list order, wrapping) that answered its last
    probe; none answering → stay and buffer. With ``failback`` (the SDK; services never
    fail back on their own) the primary is taken again once it has answered every probe
    for ``failback_after_s``. A cluster never probed counts as unreachable, except the
    active one, which counts as reachable until a probe says otherwise.

    >>> p = SwitchPolicy(2, failover_after_s=10, failback_after_s=30)
    >>> p.observe(1, True, now=0.0); p.observe(0, False, now=0.0)
    >>> p.decide(now=9.9) is None, p.decide(now=10.0)
    (True, 1)
    >>> p.switched(1)
    >>> p.observe(0, True, now=12.0); p.decide(now=41.9) is None, p.decide(now=42.0)
    (True, 0)
    """

    count: int
    failover_after_s: float
    failback_after_s: float
    failback: bool = True
    active: int = 0
    _down_since: dict[int, float] = field(default_factory=dict)
    _up_since: dict[int, float] = field(default_factory=dict)

    def observe(self, index: int, reachable: bool, now: float) -> None:
        if reachable:
            self._down_since.pop(index, None)
            self._up_since.setdefault(index, now)
        else:
            self._up_since.pop(index, None)
            self._down_since.setdefault(index, now)

    def down_for(self, index: int, now: float) -> float:
        """Seconds ``index`` has been unreachable without a break (0 when it answers)."""
        since = self._down_since.get(index)
        return 0.0 if since is None else now - since

    def reachable(self, index: int) -> bool:
        return index in self._up_since

    def decide(self, now: float) -> int | None:
        """The cluster to switch to now, or None to stay."""
        if self.down_for(self.active, now) >= self.failover_after_s:
            for step in range(1, self.count):
                candidate = (self.active + step) % self.count
                if self.reachable(candidate):
                    return candidate
            return None
        up = self._up_since.get(0)
        if (
            self.failback
            and self.active != 0
            and up is not None
            and now - up >= self.failback_after_s
        ):
            return 0
        return None

    def switched(self, index: int) -> None:
        """``index`` is active now; its reachability so far is what was observed."""
        self.active = index
