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

import json
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
        """Whether ``index`` answered its last probe."""
        return index in self._up_since

    def unreachable(self, index: int) -> bool:
        """Whether ``index`` failed its last probe."""
        return index in self._down_since

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


# -- which cluster the services are on: the marker topic ---------------------------------

MARKER_TOPIC = "cluster-active"  # logical name (prefixed); compacted


@dataclass(frozen=True)
class Marker:
    """ "The services run on cluster ``cluster`` since ``since_ms``", written there by ``by``.

    >>> m = Marker(1, "b:9092", 1700000000000, "slo@host")
    >>> Marker.from_json(m.to_json()) == m
    True
    >>> Marker.from_json(b'{"cluster": "x"}')
    Traceback (most recent call last):
    ...
    ValueError: a cluster marker needs cluster (int), bootstrap (str), since_ms (int), by (str)
    """

    cluster: int
    bootstrap: str
    since_ms: int
    by: str

    @property
    def key(self) -> bytes:
        """One key per cluster named: a marker copied over from another cluster (by a
        replication that includes this topic) never compacts away this cluster's own."""
        return f"cluster-{self.cluster}".encode()

    def to_json(self) -> bytes:
        body = {"cluster": self.cluster, "bootstrap": self.bootstrap}
        return json.dumps({**body, "since_ms": self.since_ms, "by": self.by}).encode()

    @classmethod
    def from_json(cls, value: bytes | None) -> Marker:
        try:
            body = json.loads(value or b"")
        except (ValueError, UnicodeDecodeError):
            raise ValueError("a cluster marker must be a JSON object") from None
        types = {"cluster": int, "bootstrap": str, "since_ms": int, "by": str}
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), t) and not isinstance(body.get(k), bool)
            for k, t in types.items()
        ):
            raise ValueError(
                "a cluster marker needs cluster (int), bootstrap (str), since_ms (int), by (str)"
            )
        return cls(body["cluster"], body["bootstrap"], body["since_ms"], body["by"])


def choose(bootstraps: tuple[str, ...], found: dict[int, list[Marker] | None]) -> int:
    """The cluster a starting service joins: ``found`` maps each cluster to the markers
    read from it (None: unreachable). The newest marker, read on any reachable cluster,
    that names a reachable cluster of this list (index and bootstrap agree) wins; with none,
    the first reachable cluster; with no cluster reachable, the primary.

    >>> b = ("a:1", "b:2")
    >>> choose(b, {0: [], 1: [Marker(1, "b:2", 5, "slo")]})  # a is back; b has the marker
    1
    >>> choose(b, {0: [Marker(0, "a:1", 9, "op")], 1: [Marker(1, "b:2", 5, "slo")]})
    0
    >>> choose(b, {0: None, 1: []}), choose(b, {0: None, 1: None})
    (1, 0)
    """
    reachable = [i for i in range(len(bootstraps)) if found.get(i) is not None]
    valid = [
        m
        for i in reachable
        for m in found[i] or ()
        if m.cluster in reachable and bootstraps[m.cluster] == m.bootstrap
    ]
    if valid:
        return max(valid, key=lambda m: m.since_ms).cluster
    return reachable[0] if reachable else 0
