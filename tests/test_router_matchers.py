"""router label matchers: the four operators, Alertmanager's anchoring and quoting, and the
route keys they render into (receivers deduplicate on those, so they must match byte for
byte what Alertmanager would send)."""

from __future__ import annotations

import pytest

from services.router.matchers import (
    Matcher,
    MatcherError,
    format_matchers,
    parse_matcher,
    parse_matchers,
)


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('team="risk"', {"team": "risk"}, True),
        ('team="risk"', {"team": "risky"}, False),
        ('team="risk"', {}, False),
        ('team!="risk"', {"team": "ads"}, True),
        ('team!="risk"', {"team": "risk"}, False),
        ('team!="risk"', {}, True),  # an absent label is the empty string
        ('team=""', {}, True),
        ('severity=~"page|critical"', {"severity": "critical"}, True),
        ('severity=~"page|critical"', {"severity": "warning"}, False),
        ('severity!~"page|critical"', {"severity": "warning"}, True),
        ('severity!~"page|critical"', {"severity": "page"}, False),
        ('severity!~"page|critical"', {}, True),
        ('team=~".*"', {}, True),
        ('team=~".+"', {}, False),
    ],
)
def test_the_four_operators(text: str, labels: dict, expected: bool) -> None:
    assert parse_matcher(text).matches(labels) is expected


@pytest.mark.parametrize("value", ["pager", "apage", "page\n", "xpagex", "PAGE"])
def test_regex_is_fully_anchored(value: str) -> None:
    matcher = parse_matcher('severity=~"page"')
    assert not matcher.matches({"severity": value})
    assert parse_matcher('severity!~"page"').matches({"severity": value})


def test_alternation_is_anchored_as_a_whole() -> None:
    # "^page|critical$" would take "pager"; Alertmanager wraps in ^(?:...)$.
    matcher = parse_matcher('severity=~"page|critical"')
    assert not matcher.matches({"severity": "pager"})
    assert not matcher.matches({"severity": "subcritical"})


def test_unquoted_values_spaces_and_escapes() -> None:
    assert parse_matcher("  team  =  risk  ").value == "risk"
    assert parse_matcher('summary="a \\"quoted\\" word"').value == 'a "quoted" word'
    assert parse_matcher('path="C:\\\\temp"').value == "C:\\temp"
    assert parse_matcher('text="two\\nlines"').value == "two\nlines"
    assert parse_matcher('empty=""').value == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("team", "bad matcher format"),
        ('1team="x"', "bad matcher format"),
        ('team=="x"', "unescaped double quote"),
        ('team="x', "closing double quote"),
        ('team=~"(unclosed"', "bad regular expression"),
        ('team=~"a{2,1}"', "bad regular expression"),
    ],
)
def test_parse_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(MatcherError, match=message):
        parse_matcher(text)


def test_a_list_splits_on_commas_outside_quotes() -> None:
    parsed = parse_matchers('{team="risk, ads", severity=~"page|critical",}')
    assert [(m.name, m.op, m.value) for m in parsed] == [
        ("team", "=", "risk, ads"),
        ("severity", "=~", "page|critical"),
    ]


def test_rendering_is_alertmanagers() -> None:
    matchers = parse_matchers('team="risk", severity=~"page|critical", team!="ads"')
    # sorted by name, then value, then operator; comma without space; values quoted.
    assert format_matchers(matchers) == '{severity=~"page|critical",team!="ads",team="risk"}'
    assert str(Matcher.of("summary", "=", 'say "hi"\n')) == 'summary="say \\"hi\\"\\n"'
    assert format_matchers([]) == "{}"


def test_unknown_operator_is_refused() -> None:
    with pytest.raises(MatcherError, match="unknown operator"):
        Matcher.of("team", "~=", "x")
