"""Who may call the router's API: bearer tokens with the router's scopes (the table
itself is :mod:`watchkeeper.auth`, shared with the control plane), and signed acknowledge
links.

Tokens come from ``WK_ROUTER_API_TOKENS`` (or the file in ``WK_ROUTER_API_TOKENS_FILE``).
Scopes: ``read`` (list alerts, silences, escalations, incidents; health), ``ack``
(acknowledge and resolve; implies read), ``admin`` (silences; implies every scope), and
``ingest`` (post Alertmanager webhooks; nothing else, so Alertmanager's credential cannot
read or acknowledge anything).

>>> table = parse_tokens("alice ack 0123456789abcdef0123; ops admin fedcba9876543210fedc")
>>> table.authenticate("0123456789abcdef0123").allows("admin")
False
>>> sorted(table.authenticate("fedcba9876543210fedc").scopes)
['ack', 'admin', 'ingest', 'read']
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

from watchkeeper.auth import Scopes, Token, TokenTable

__all__ = ["ROUTER_SCOPES", "AckLinks", "Token", "TokenTable", "parse_tokens"]

ROUTER_SCOPES = Scopes.of(read=(), ack=("read",), admin=("read", "ack", "ingest"), ingest=())


def parse_tokens(text: str | None, variable: str = "WK_ROUTER_API_TOKENS") -> TokenTable:
    return TokenTable.parse(text, variable, ROUTER_SCOPES)


class AckLinks:
    """Links that acknowledge one escalation, for people reading a chat message or an
    email: they carry an HMAC of the escalation id (``WK_ROUTER_ACK_LINK_SECRET``) instead
    of a bearer token, so a link acknowledges that escalation and can do nothing else.

    >>> links = AckLinks(b"k" * 32, "https://router.example")
    >>> url = links.url("e1")
    >>> url.startswith("https://router.example/ack/e1?t=")
    True
    >>> links.check("e1", url.split("t=")[1]), links.check("e2", url.split("t=")[1])
    (True, False)
    """

    def __init__(self, secret: bytes, base_url: str) -> None:
        self._secret = secret
        self.base_url = base_url.rstrip("/")

    def token(self, escalation_id: str) -> str:
        mac = hmac.new(self._secret, b"ack\n" + escalation_id.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:18]).decode()

    def url(self, escalation_id: str) -> str:
        return f"{self.base_url}/ack/{quote(escalation_id)}?t={self.token(escalation_id)}"

    def check(self, escalation_id: str, presented: str) -> bool:
        return hmac.compare_digest(self.token(escalation_id).encode(), presented.encode())

    def __repr__(self) -> str:
        return f"AckLinks({self.base_url!r})"
