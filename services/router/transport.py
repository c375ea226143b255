"""The one way a notification leaves: ``Transport.send`` gives an :class:`Answer`, always.

Each integration (one ``*_configs`` entry of a receiver) has its own HTTP client,
connection pool and concurrency limit here, so a receiver that hangs cannot take the
connections or the places another one needs. Integrations that do not speak HTTP (email)
ignore the client; all of them answer in :class:`~.answers.Answer`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

import httpx

from .answers import Answer
from .integrations.base import Integration, Request

USER_AGENT = "watchkeeper-router/0.2"


class Slot:
    """One of an integration's max_in_flight places, taken and given back at most once."""

    def __init__(self, limit: asyncio.Semaphore) -> None:
        self._limit = limit
        self._held = False

    async def take(self) -> None:
        await self._limit.acquire()
        self._held = True

    def give(self) -> None:
        if self._held:
            self._held = False
            self._limit.release()


class Transport:
    def __init__(
        self,
        integrations: Iterable[Integration],
        max_in_flight: int = 32,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # httpx logs every request's URL at INFO, and some URLs are credentials (Slack's
        # webhook URL): whatever the log level, those lines never happen.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self._clock = clock
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        for integration in integrations:
            self._clients[integration.id] = httpx.AsyncClient(
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
                limits=httpx.Limits(
                    max_connections=max_in_flight, max_keepalive_connections=max_in_flight
                ),
            )
            self._limits[integration.id] = asyncio.Semaphore(max_in_flight)

    def slot(self, integration: Integration) -> Slot:
        return Slot(self._limits[integration.id])

    async def send(self, integration: Integration, request: Request, slot: Slot) -> Answer:
        """One attempt. The slot is held from the request until the caller has the
        delivery in the log (so at most max_in_flight notifications per integration are
        ever "sent but not yet logged", what a crash would send again); it is given back
        at once when the attempt failed, since nothing was delivered then."""
        await slot.take()
        try:
            answer = await integration.send(self._clients[integration.id], request, self._clock())
        except BaseException:
            slot.give()
            raise
        if not answer.ok:
            slot.give()
        return answer

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
