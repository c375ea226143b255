"""Compute cost of a request: the instance time it held, at the instance's hourly price,
shared with the requests that ran on the same instance at the same time.

The fleet of a model version is what its telemetry says: every host (or pod) heard from
within ``ttl_ms`` of event time, at its ``hourly_price_usd`` (or the price of its
``instance_type`` from the price book). When one host reports ``replicas: N`` on behalf of
a deployment, the fleet has at least N replicas at the mean host price. A model whose
hosts send no telemetry may be priced in the cost file instead (``fleets:``); telemetry
wins whenever a live host has a price.

Sharing, by Little's law: the mean number of requests in flight over the previous window
is L = (sum of their latencies) / window. Spread over R replicas, each replica serves
L / R requests at once, so a request pays

    cost = latency_s x (replica price per second) / max(1, L / R)

Over a busy window this adds up to the fleet's whole bill for the window (every replica
second is shared by the requests that held it); over a quiet one to the busy part only,
and the idle rest is what the scale-to-zero advice reports. The first window of a fleet
has no previous window: its requests share nothing (L = 0), a slight over-estimate.

>>> fleet = Fleet(window_ms=60_000, ttl_ms=300_000)
>>> fleet.observe("node-1", 3.6, 1, t_ms=0)  # $3.60 an hour: $0.001 a second
>>> fleet.cost(500.0, t_ms=1_000)  # half a second, alone on the replica
0.0005
>>> for i in range(240):  # 240 requests of 1 s in one minute: 4 in flight on 1 replica
...     _ = fleet.cost(1000.0, t_ms=60_000 + i * 250)
>>> fleet.cost(1000.0, t_ms=120_000)  # next window: a 1 s request pays a quarter second
0.00025
"""

from __future__ import annotations

from typing import Any


class Fleet:
    """The hosts serving one model version, and the load they carried."""

    def __init__(
        self, window_ms: int, ttl_ms: int, fallback: tuple[float, int] | None = None
    ) -> None:
        self.window_ms = window_ms
        self.ttl_ms = ttl_ms
        # (hourly price, replicas) from the cost file, used while no live host has a price
        self.fallback = fallback
        # host -> [hourly price, replicas reported (0: none), last seen event time]
        self.hosts: dict[str, list[float]] = {}
        self.replica_price_s = 0.0  # mean host price per second; 0 when no live host
        self.replicas = 0
        self.expires_ms = 0  # the earliest time a host may drop out
        self.window_start = -1
        self.busy_s = 0.0  # sum of latencies in the current window
        self.share = 1.0  # requests sharing a replica, from the previous window

    # -- telemetry ---------------------------------------------------------------------

    def observe(self, host: str, hourly_price: float | None, replicas: int, t_ms: int) -> None:
        """A telemetry sample; a host without a price is known but costs nothing known."""
        previous = self.hosts.get(host)
        if previous is not None and previous[2] > t_ms:
            return  # an older sample than what we have
        self.hosts[host] = [hourly_price if hourly_price is not None else -1.0, replicas, t_ms]
        self._refresh(t_ms)

    def _refresh(self, t_ms: int) -> None:
        live = [h for h in self.hosts.values() if h[2] > t_ms - self.ttl_ms]
        if len(live) != len(self.hosts):
            self.hosts = {k: h for k, h in self.hosts.items() if h[2] > t_ms - self.ttl_ms}
        priced = [h for h in live if h[0] >= 0]
        if not priced:
            price, replicas = self.fallback or (0.0, 0)
            self.replica_price_s, self.replicas = price / 3600.0, replicas
        else:
            self.replica_price_s = sum(h[0] for h in priced) / len(priced) / 3600.0
            self.replicas = max(len(priced), int(max(h[1] for h in priced)))
        self.expires_ms = min((h[2] for h in live), default=t_ms) + self.ttl_ms

    def hourly_price(self, t_ms: int) -> float:
        """The whole fleet's price per hour at ``t_ms`` (0 when nothing is provisioned)."""
        if t_ms >= self.expires_ms:
            self._refresh(t_ms)
        return self.replica_price_s * 3600.0 * self.replicas

    # -- requests ----------------------------------------------------------------------

    def cost(self, latency_ms: float, t_ms: int) -> float | None:
        """USD for one request, or None when no live host has a price."""
        if t_ms >= self.expires_ms:
            self._refresh(t_ms)
        window = t_ms - t_ms % self.window_ms
        if window > self.window_start:
            self._roll(window)
        latency_s = latency_ms / 1000.0
        self.busy_s += latency_s
        if not self.replicas:
            return None
        return latency_s * self.replica_price_s / self.share

    def _roll(self, window: int) -> None:
        adjacent = window == self.window_start + self.window_ms
        in_flight = self.busy_s * 1000.0 / self.window_ms if adjacent else 0.0
        self.share = max(1.0, in_flight / self.replicas) if self.replicas else 1.0
        self.window_start = window
        self.busy_s = 0.0

    # -- changelog ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "hosts": self.hosts,
            "window_start": self.window_start,
            "busy_s": self.busy_s,
            "share": self.share,
        }

    def load(self, data: dict[str, Any]) -> None:
        self.hosts = data["hosts"]
        self.window_start = data["window_start"]
        self.busy_s = data["busy_s"]
        self.share = data["share"]
        if self.hosts:
            self._refresh(max(h[2] for h in self.hosts.values()))
