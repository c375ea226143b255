"""Standard Webhooks signatures for outgoing webhooks (https://www.standardwebhooks.com/).

Each request carries ``webhook-id`` (the same on every retry of one notification, so a
receiver can use it as an idempotency key), ``webhook-timestamp`` (integer Unix seconds of
this attempt) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` of
``<id>.<timestamp>.<body>`` under each of the endpoint's secrets, space-separated, so that a
secret can be rotated without a moment where receivers reject us.

A secret is written as the specification serialises it: ``whsec_`` then the base64 of
24 to 64 random bytes. Generate one with::

    python -c "import base64, os; print('whsec_' + base64.b64encode(os.urandom(32)).decode())"

>>> secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
>>> signer = Signer.from_secrets([secret])
>>> signer.headers("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
... # doctest: +NORMALIZE_WHITESPACE
{'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek', 'webhook-timestamp': '1614265330',
 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field

PREFIX = "whsec_"
MIN_BYTES, MAX_BYTES = 24, 64


class SecretError(ValueError):
    """A signing secret that is not ``whsec_<base64 of 24..64 bytes>``. The message never
    contains the secret."""


def decode_secret(secret: str) -> bytes:
    if not secret.startswith(PREFIX):
        raise SecretError("a signing secret must start with 'whsec_'")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise SecretError("a signing secret must be 'whsec_' then base64") from None
    if not MIN_BYTES <= len(key) <= MAX_BYTES:
        raise SecretError(
            f"a signing secret must hold {MIN_BYTES} to {MAX_BYTES} bytes, this one {len(key)}"
        )
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Signer:
    # repr=False: a signer must never print its keys, wherever it ends up being logged.
    keys: tuple[bytes, ...] = field(repr=False)

    @classmethod
    def from_secrets(cls, secrets: Iterable[str]) -> Signer:
        return cls(tuple(decode_secret(s) for s in secrets))

    def headers(self, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(sign(k, msg_id, timestamp, body) for k in self.keys),
        }
