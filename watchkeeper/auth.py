"""Who may call a service's HTTP API: bearer tokens with scopes.

One table format for every API (the router's and the control plane's): entries separated
by newlines or ``;``, each ``<name> <scopes> <token>`` with scopes comma-separated. The
name is who acted (it goes into audit records, silences and incident timelines); the
token itself is kept only as a SHA-256 digest, compared in constant time against every
configured digest, and never logged, counted or echoed.

Each API names its scopes and what each implies (:class:`Scopes`): the control plane's
are ``read``, ``write`` (implies read) and ``admin`` (implies every scope).

>>> table = TokenTable.parse("alice write 0123456789abcdef0123; ops admin fedcba9876543210fedc")
>>> table.authenticate("0123456789abcdef0123").name, table.authenticate("nope") is None
('alice', True)
>>> sorted(table.authenticate("0123456789abcdef0123").scopes)
['read', 'write']
>>> table.authenticate("0123456789abcdef0123").allows("admin")
False
>>> TokenTable.parse("bob read short")
Traceback (most recent call last):
...
watchkeeper.settings.ConfigError: WK_API_TOKENS entry 1 (bob): a token needs at least 16 \
characters
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .settings import ConfigError

MIN_TOKEN = 16
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


@dataclass(frozen=True)
class Scopes:
    """An API's scopes: each name and the scopes a token given it holds."""

    implies: Mapping[str, frozenset[str]]

    @classmethod
    def of(cls, **implies: tuple[str, ...]) -> Scopes:
        names = set(implies)
        for name, more in implies.items():
            unknown = set(more) - names
            if unknown:
                raise ValueError(f"scope {name!r} implies unknown {sorted(unknown)}")
        return cls({name: frozenset({name, *more}) for name, more in implies.items()})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.implies)


CONTROL_SCOPES = Scopes.of(read=(), write=("read",), admin=("read", "write"))


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
    def parse(
        cls, text: str | None, variable: str = "WK_API_TOKENS", scopes: Scopes = CONTROL_SCOPES
    ) -> TokenTable:
        tokens: list[Token] = []
        entries = [e.strip() for e in re.split(r"[;\n]", text or "") if e.strip()]
        for number, entry in enumerate(entries, 1):
            parts = entry.split()
            name = parts[0] if parts and _NAME.match(parts[0]) else "?"
            where = f"{variable} entry {number} ({name})"
            if len(parts) != 3:
                raise ConfigError(f"{where}: expected '<name> <scopes> <token>'")
            held: set[str] = set()
            for scope in parts[1].split(","):
                if scope not in scopes.implies:
                    raise ConfigError(
                        f"{where}: unknown scope {scope!r}; use {', '.join(scopes.names)}"
                    )
                held |= scopes.implies[scope]
            if name == "?":
                raise ConfigError(f"{where}: a name is letters, digits and _.@- only")
            if len(parts[2]) < MIN_TOKEN:
                raise ConfigError(f"{where}: a token needs at least {MIN_TOKEN} characters")
            digest = hashlib.sha256(parts[2].encode()).digest()
            if any(t.name == name for t in tokens):
                raise ConfigError(f"{where}: the name {name!r} is used twice")
            tokens.append(Token(name, frozenset(held), digest))
        return cls(tuple(tokens))

    def authenticate(self, presented: str) -> Token | None:
        """The token's entry, comparing against every entry (no early exit)."""
        digest = hashlib.sha256(presented.encode(errors="replace")).digest()
        found = None
        for token in self.tokens:
            if hmac.compare_digest(digest, token.digest):
                found = token
        return found

    def check(self, header: str, scope: str) -> tuple[int, str] | Token:
        """The caller of an ``Authorization`` header, or (401/403, why) when refused."""
        kind, _, presented = header.partition(" ")
        if kind.lower() != "bearer" or not presented.strip():
            return 401, "a bearer token is required"
        token = self.authenticate(presented.strip())
        if token is None:
            return 401, "the token is not valid"
        if not token.allows(scope):
            return 403, f"this token lacks the {scope!r} scope"
        return token
