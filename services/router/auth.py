"""Who may call the router's API: bearer tokens with scopes, and signed acknowledge links.

Tokens come from ``WK_ROUTER_API_TOKENS`` (or the file in ``WK_ROUTER_API_TOKENS_FILE``):
entries separated by newlines or ``;``, each ``<name> <scopes> <token>`` with scopes
comma-separated. The name is who acted (it goes into silences and incident timelines);
the token itself is kept only as a SHA-256 digest, compared in constant time against
every configured digest, and never logged, counted or echoed.

Scopes: ``read`` (list alerts, silences, escalations, incidents; health), ``ack``
(acknowledge and resolve; implies read), ``admin`` (silences; implies every scope), and
``ingest`` (post Alertmanager webhooks; nothing else, so Alertmanager's credential cannot
read or acknowledge anything).

>>> table = TokenTable.parse("alice ack 0123456789abcdef0123; ops admin fedcba9876543210fedc")
>>> table.authenticate("0123456789abcdef0123").name, table.authenticate("nope") is None
('alice', True)
>>> table.authenticate("0123456789abcdef0123").allows("admin")
False
>>> TokenTable.parse("bob read short")
Traceback (most recent call last):
...
watchkeeper.settings.ConfigError: WK_ROUTER_API_TOKENS entry 1 (bob): a token needs at \
least 16 characters
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from watchkeeper.settings import ConfigError

SCOPES = ("read", "ack", "admin", "ingest")
_IMPLIES = {
    "read": {"read"},
    "ack": {"read", "ack"},
    "admin": set(SCOPES),
    "ingest": {"ingest"},
}
MIN_TOKEN = 16
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


@dataclass(frozen=True)
class Token:
    name: str
    scopes: frozenset[str]
    digest: bytes = field(repr=False)

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True)
class TokenTable:
    tokens: tuple[Token, ...] = ()

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def parse(cls, text: str | None, variable: str = "WK_ROUTER_API_TOKENS") -> TokenTable:
        tokens: list[Token] = []
        entries = [e.strip() for e in re.split(r"[;\n]", text or "") if e.strip()]
        for number, entry in enumerate(entries, 1):
            parts = entry.split()
            name = parts[0] if parts and _NAME.match(parts[0]) else "?"
            where = f"{variable} entry {number} ({name})"
            if len(parts) != 3:
                raise ConfigError(f"{where}: expected '<name> <scopes> <token>'")
            scopes: set[str] = set()
            for scope in parts[1].split(","):
                if scope not in _IMPLIES:
                    raise ConfigError(f"{where}: unknown scope {scope!r}; use {', '.join(SCOPES)}")
                scopes |= _IMPLIES[scope]
            if name == "?":
                raise ConfigError(f"{where}: a name is letters, digits and _.@- only")
            if len(parts[2]) < MIN_TOKEN:
                raise ConfigError(f"{where}: a token needs at least {MIN_TOKEN} characters")
            digest = hashlib.sha256(parts[2].encode()).digest()
            if any(t.name == name for t in tokens):
                raise ConfigError(f"{where}: the name {name!r} is used twice")
            tokens.append(Token(name, frozenset(scopes), digest))
        return cls(tuple(tokens))

    def authenticate(self, presented: str) -> Token | None:
        """The token's entry, comparing against every entry (no early exit)."""
        digest = hashlib.sha256(presented.encode(errors="replace")).digest()
        found = None
        for token in self.tokens:
            if hmac.compare_digest(digest, token.digest):
                found = token
        return found


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
