"""Label matchers, as Alertmanager writes and reads them: ``=``, ``!=``, ``=~``, ``!~``.

Regular expressions are fully anchored (``severity=~"page"`` does not match ``pager``), and
a label the alert does not carry matches as the empty string, exactly as in Alertmanager:
existing routing trees keep routing the same alerts to the same place.

>>> m = parse_matcher('severity=~"page|critical"')
>>> m.matches({"severity": "page"}), m.matches({"severity": "pager"})
(True, False)
>>> parse_matcher("team != risk").matches({})
True
>>> format_matchers(parse_matchers('{team="risk", severity=~"page|critical"}'))
'{severity=~"page|critical",team="risk"}'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

OPERATORS = ("=", "!=", "=~", "!~")
# '=~' before '=': otherwise '=' wins and '~' becomes part of the value.
_MATCHER = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.DOTALL)
# Characters that make Alertmanager print a label name quoted (its UTF-8 matcher syntax).
_RESERVED = set("{}!=~,\\\"'`")


class MatcherError(ValueError):
    """A matcher that cannot be parsed or whose regular expression does not compile."""


@dataclass(frozen=True)
class Matcher:
    """One condition on one label."""

    name: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, name: str, op: str, value: str) -> Matcher:
        if op not in OPERATORS:
            raise MatcherError(f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
        regex = None
        if op in ("=~", "!~"):
            try:
                re.compile(value)  # on its own first, so error positions refer to the value
                # Anchored the way Alertmanager anchors: the whole value must match.
                regex = re.compile(f"(?:{value})", re.DOTALL)
            except re.error as exc:
                raise MatcherError(f"bad regular expression {value!r}: {exc}") from None
        return cls(name, op, value, regex)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        """Alertmanager's rendering, which ends up inside every group key."""
        if any(ch.isspace() or ch in _RESERVED for ch in self.name):
            return f"{go_quote(self.name)}{self.op}{go_quote(self.value)}"
        escaped = self.value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'

    def sort_key(self) -> tuple[str, str, int]:
        # Alertmanager sorts a route's matchers by name, then value, then operator.
        return (self.name, self.value, OPERATORS.index(self.op))


def parse_matcher(text: str) -> Matcher:
    """One matcher: ``name op value``, the value optionally in double quotes.

    >>> parse_matcher('summary="say \\\\"hi\\\\""').value
    'say "hi"'
    >>> parse_matcher("severity=~(")
    Traceback (most recent call last):
    ...
    services.router.matchers.MatcherError: bad regular expression '(': missing ), \
unterminated subpattern at position 0
    """
    found = _MATCHER.match(text)
    if not found:
        raise MatcherError(f'bad matcher format: {text!r} (expected name="value")')
    name, op, raw = found.groups()
    return Matcher.of(name, op, _unquote(raw, text))


def parse_matchers(text: str) -> list[Matcher]:
    """A comma-separated list, optionally in braces: ``{a="1", b=~"x|y"}``.

    Commas inside double quotes do not separate, as in Alertmanager's parser.
    """
    body = text.strip()
    body = body.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in body:
        if ch == "," and not quoted:
            tokens.append("".join(current))
            current = []
            continue
        if ch == '"':
            if escaped:
                escaped = False
            else:
                quoted = not quoted
        elif ch == "\\":
            escaped = not escaped
        else:
            escaped = False
        current.append(ch)
    tokens.append("".join(current))
    return [parse_matcher(token) for token in tokens if token.strip()]


def sorted_matchers(matchers: Iterable[Matcher]) -> tuple[Matcher, ...]:
    return tuple(sorted(matchers, key=Matcher.sort_key))


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def format_matchers(matchers: Iterable[Matcher]) -> str:
    """``{a="1",b=~"x"}``: sorted, comma without space, as Alertmanager's route keys."""
    return "{" + ",".join(str(m) for m in sorted_matchers(matchers)) + "}"


def _unquote(raw: str, text: str) -> str:
    """OpenMetrics unescaping: ``\\"``, ``\\\\`` and ``\\n``; a stray backslash is literal."""
    expect_closing = raw.startswith('"')
    if expect_closing:
        raw = raw[1:]
    out: list[str] = []
    escaped = False
    for i, ch in enumerate(raw):
        if escaped:
            escaped = False
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(ch, "\\" + ch))
            continue
        if ch == "\\" and i < len(raw) - 1:
            escaped = True
        elif ch == '"':
            if not expect_closing or i < len(raw) - 1:
                raise MatcherError(f"matcher value contains an unescaped double quote: {text!r}")
            expect_closing = False
        else:
            out.append(ch)
    if expect_closing:
        raise MatcherError(f"matcher value misses its closing double quote: {text!r}")
    return "".join(out)


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote`` for the printable subset labels use in practice."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
