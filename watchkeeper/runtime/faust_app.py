"""The Faust app of a service: configured from the environment like the batch engine's clients."""

from __future__ import annotations

import random
import ssl
import zlib
from typing import Any

import faust

from ..settings import ServiceSettings
from . import logs


def broker_credentials(settings: ServiceSettings) -> Any:
    """Faust (aiokafka) wants credential objects where librdkafka wants strings."""
    kafka = settings.kafka
    context = kafka.ssl_context()
    if kafka.uses_sasl:
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password,
            mechanism=kafka.sasl_mechanism,
            ssl_context=context,
        )
    if kafka.uses_ssl:
        return faust.SSLCredentials(context=context or ssl.create_default_context())
    return None


def librdkafka_partitioner(
    key: bytes | None, all_partitions: list[int], available: list[int]
) -> int:
    """librdkafka's default (``consistent_random``): CRC-32 of the key over every
    partition, a random available one for no (or an empty) key, as librdkafka does.
    aiokafka's default is Java's murmur2.

    >>> librdkafka_partitioner(b"fraud", [2, 0, 1], [0, 1, 2])
    1
    """
    if not key:
        return random.choice(available or all_partitions)
    return sorted(all_partitions)[zlib.crc32(key) % len(all_partitions)]


def create_app(settings: ServiceSettings) -> faust.App:
    """A Faust app for one service, configured from ``settings``."""
    brokers = [
        f"kafka://{server.strip()}" for server in settings.kafka.bootstrap_servers.split(",")
    ]
    return faust.App(
        settings.group,
        broker=brokers,
        broker_credentials=broker_credentials(settings),
        # Tables recover from their changelog topics; no local store to lose or back up.
        store="memory://",
        # Our own /metrics and /healthz run on a thread (see http.py); no Faust web server.
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Keyed records land where the batch engine (and the SDK) would put them: a
        # service that changes engine keeps each key on its partition.
        producer_partitioner=librdkafka_partitioner,
        # Replaced in Service.run() by what the cluster holds (topic_admin.replication_factor).
        topic_replication_factor=1,
        topic_allow_declare=True,
        logging_config=logs.logging_config(settings.name, settings.log_level),
    )
