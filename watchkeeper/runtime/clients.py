"""How the engines' librdkafka clients are configured to ride out broker restarts.

Each setting here was measured against a broker killed with SIGKILL and restarted under
load (``make bench BENCH=bounce``; the figures are in docs/runtime.md):

* ``metadata.recovery.strategy=none``: with librdkafka's default (``rebootstrap``), the
  moment every known broker is down — always, for a single broker — the client
  decommissions the brokers it learned and starts over from ``bootstrap.servers``. A
  decommissioned group coordinator stays cached, and ``send_offsets_to_transaction()``
  then waits for a state change that never comes (librdkafka #5511), ignoring its timeout
  (#5456): every run of the experiment hung there. Without re-bootstrap the broker handles
  keep reconnecting and the call completes once the broker is back. It does not cure
  #5456: on three brokers, a killed node that coordinated the group could still leave the
  call hanging (2 of 24 service runs); the watchdog (``watchdog.py``) ends those. The
  price: a cluster whose every broker address changes at once is not found again — the
  loop then reports ``stalled`` on ``/healthz`` and a restart picks up the new addresses.
* ``session.timeout.ms`` 45 s (Kafka's own default since 3.0): a broker restart takes
  10 to 20 s; with 15 s the client gave up its session meanwhile, rejoined under its static
  ``group.instance.id`` and was then fenced by its own new membership
  (``FENCED_INSTANCE_ID``, fatal for a librdkafka consumer). The cost: an instance that
  dies and never comes back is replaced after 45 s (one that restarts takes its
  partitions back at once).
* ``transaction.timeout.ms`` 30 s: how long a successor waits for the open transaction of
  a frozen or vanished predecessor with another id; long enough to outlast a broker
  restart without the coordinator aborting the live transaction.
"""

from __future__ import annotations

import logging
from typing import Any

from ..settings import ServiceSettings, env_float, env_int, env_str


def ride_out_broker_restarts() -> dict[str, Any]:
    """What every engine client sets; see the module docstring for why.
    ``WK_KAFKA_METADATA_RECOVERY=rebootstrap`` restores librdkafka's default (the
    benchmark measures both; the watchdog is what saves that one)."""
    return {"metadata.recovery.strategy": env_str("WK_KAFKA_METADATA_RECOVERY") or "none"}


_LOGGER = "watchkeeper.runtime.librdkafka"


def call_timeout_s() -> float:
    """The timeout we hand librdkafka's blocking calls (``WK_KAFKA_CALL_TIMEOUT_S``)."""
    return env_float("WK_KAFKA_CALL_TIMEOUT_S", 30.0)


def call_bound_s() -> float:
    """How long the watchdog lets such a call go without returning: its timeout plus
    ``WK_WATCHDOG_GRACE_S``. Longer than a broker restart takes, so that a call waiting
    for a broker that comes back is not given up on."""
    return call_timeout_s() + env_float("WK_WATCHDOG_GRACE_S", 5.0)


def session_timeout_ms() -> int:
    return env_int("WK_SESSION_TIMEOUT_MS", 45_000)


def transaction_timeout_ms() -> int:
    return env_int("WK_TRANSACTION_TIMEOUT_MS", 30_000)


def engine_consumer(settings: ServiceSettings, instance: str, **extra: Any) -> dict[str, Any]:
    """The batch engine's consumer: static membership, manual offsets, read-committed,
    range assignment (partition p of every input to one member: co-partitioning)."""
    member = f"{settings.name}-{instance}"
    return settings.kafka.confluent(
        **{
            "group.id": settings.group,
            "client.id": member,
            # Static membership: a restarted instance takes its partitions back at once
            # instead of waiting for the crashed one's session to time out.
            "group.instance.id": member,
            "session.timeout.ms": session_timeout_ms(),
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "partition.assignment.strategy": "range",
            "fetch.wait.max.ms": 50,
            "logger": logging.getLogger(_LOGGER),
            **ride_out_broker_restarts(),
            **extra,
        }
    )


def transactional_producer(settings: ServiceSettings, instance: str) -> dict[str, Any]:
    """The batch engine's producer: one transactional id per instance, stable across
    restarts, so that a restarted instance fences its own zombie."""
    return settings.kafka.confluent(
        **{
            "transactional.id": f"{settings.group}.{instance}",
            "transaction.timeout.ms": transaction_timeout_ms(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "logger": logging.getLogger(_LOGGER),
            **ride_out_broker_restarts(),
        }
    )


def changelog_reader(settings: ServiceSettings) -> dict[str, Any]:
    return settings.kafka.confluent(
        **{
            "group.id": f"{settings.group}.restore",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "logger": logging.getLogger(_LOGGER),
            **ride_out_broker_restarts(),
        }
    )
