"""The routing tree: first match wins, continue, inheritance, the root as default, and the
route keys that become the first half of every group key."""

from __future__ import annotations

from services.router.matchers import parse_matchers
from services.router.routes import Route, RouteSpec
from services.router.routing_file import loads

TREE = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 2h
  routes:
    - matchers: ['team="risk"']
      receiver: risk
      continue: true
      group_wait: 0s
      routes:
        - matchers: ['severity="page"']
          receiver: risk-pager
          group_by: [alertname, model]
        - matchers: ['severity=~"warn.*"']
          repeat_interval: 12h
    - matchers: ['severity="page"']
      receiver: pager
      group_by: ['...']
    - matchers: ['severity="page"']
      receiver: never
receivers:
  - name: default
  - name: risk
  - name: risk-pager
  - name: pager
  - name: never
"""


def receivers(root: Route, labels: dict[str, str]) -> list[str]:
    return [route.opts.receiver for route in root.match(labels)]


def tree() -> Route:
    return loads(TREE).route


def test_the_root_takes_what_no_child_takes() -> None:
    assert receivers(tree(), {"alertname": "X", "team": "ads"}) == ["default"]
    assert receivers(tree(), {}) == ["default"]


def test_first_match_wins_unless_continue() -> None:
    root = tree()
    # risk has continue: the search goes on to the next sibling, which matches and stops.
    assert receivers(root, {"team": "risk", "severity": "page"}) == ["risk-pager", "pager"]
    # "never" is shadowed by "pager" (same matchers, no continue).
    assert "never" not in receivers(root, {"severity": "page"})
    assert receivers(root, {"severity": "page"}) == ["pager"]


def test_a_matching_route_whose_children_do_not_match_is_itself_the_match() -> None:
    assert receivers(tree(), {"team": "risk", "severity": "info"}) == ["risk"]


def test_children_inherit_receiver_group_by_and_timers() -> None:
    root = tree()
    risk = root.routes[0]
    risk_pager, risk_warn = risk.routes
    assert risk.opts.group_by == ("alertname",)
    assert (risk.opts.group_wait, risk.opts.group_interval, risk.opts.repeat_interval) == (
        0.0,
        60.0,
        7200.0,
    )
    assert risk_pager.opts.group_by == ("alertname", "model")
    assert risk_pager.opts.group_wait == 0.0  # from its parent, not the root
    assert risk_warn.opts.receiver == "risk"
    assert risk_warn.opts.repeat_interval == 12 * 3600
    assert root.routes[1].opts.group_by_all


def test_alertmanager_defaults_when_nothing_is_said() -> None:
    opts = Route(RouteSpec(receiver="r")).opts
    assert (opts.group_wait, opts.group_interval, opts.repeat_interval) == (30, 300, 14400)
    assert opts.group_by == () and not opts.group_by_all


def test_group_labels_take_only_present_labels_or_all() -> None:
    root = tree()
    labels = {"alertname": "Lat", "model": "fraud", "team": "risk", "severity": "page"}
    risk_pager, pager = root.match(labels)
    assert risk_pager.group_labels(labels) == {"alertname": "Lat", "model": "fraud"}
    assert pager.group_labels(labels) == labels
    assert root.group_labels({"model": "fraud"}) == {}


def test_route_keys_and_ids() -> None:
    root = tree()
    assert root.key == "{}"
    assert root.routes[0].routes[0].key == '{}/{team="risk"}/{severity="page"}'
    # Two siblings with the same matchers share a key (as in Alertmanager), not an id.
    assert root.routes[1].key == root.routes[2].key
    assert root.routes[1].id != root.routes[2].id


def test_legacy_match_and_match_re_are_matchers_too() -> None:
    root = loads(
        """
route:
  receiver: default
  routes:
    - match: {team: risk}
      match_re: {severity: "page|critical"}
      receiver: risk
receivers: [{name: default}, {name: risk}]
"""
    ).route
    assert receivers(root, {"team": "risk", "severity": "critical"}) == ["risk"]
    assert receivers(root, {"team": "risk", "severity": "pager"}) == ["default"]
    assert root.routes[0].key == '{}/{severity=~"page|critical",team="risk"}'


def test_routes_built_in_code() -> None:
    spec = RouteSpec(
        receiver="a",
        routes=(RouteSpec(matchers=tuple(parse_matchers('x="1"')), receiver="b"),),
    )
    assert receivers(Route(spec), {"x": "1"}) == ["b"]
