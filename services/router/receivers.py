"""The ``receivers`` section: each receiver's integrations, fallback and rate limit.

::

    receivers:
      - name: risk-oncall
        fallback: ops-email            # undeliverable after the retry budget: tell them
        rate_limit: {count: 20, per: 1m}   # per integration; excess waits and coalesces
        webhook_configs:   [{url, send_resolved, timeout, max_alerts, signing_secrets}]
        slack_configs:     [{api_url, channel, username, icon_emoji, title, text, ...}]
        pagerduty_configs: [{routing_key, url, description, severity, severity_map, ...}]
        opsgenie_configs:  [{api_key, api_url, message, description, priority, tags, ...}]
        email_configs:     [{to, from, smarthost, auth_username, auth_password, ...}]

Every integration takes ``send_resolved`` (Alertmanager's defaults: true for webhook,
PagerDuty and Opsgenie, false for Slack and email) and ``timeout``. Secrets
(``signing_secrets``, ``api_url`` of Slack, ``routing_key``, ``api_key``,
``auth_password``) are best given as ``${VAR}``: the value comes from ``$VAR`` or from
the file ``$VAR_FILE``, and no error message ever quotes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from .integrations.email import EmailConfig
from .integrations.opsgenie import DEFAULT_API_URL, DEFAULT_PRIORITY_MAP, OpsgenieConfig
from .integrations.pagerduty import (
    DEFAULT_SEVERITY_MAP,
    DEFAULT_URL,
    SEVERITIES,
    PagerDutyConfig,
)
from .integrations.slack import SlackConfig
from .ratelimit import RateLimit
from .routing_nodes import Keys, Nodes
from .signing import SecretError, Signer
from .webhook import WebhookConfig

_RECEIVER = (
    "name",
    "fallback",
    "rate_limit",
    "webhook_configs",
    "slack_configs",
    "pagerduty_configs",
    "opsgenie_configs",
    "email_configs",
)
_REFUSED = {
    key: f"{key!r}: not supported; use webhook, slack, pagerduty, opsgenie or email configs"
    for key in (
        "discord_configs",
        "msteams_configs",
        "msteamsv2_configs",
        "pushover_configs",
        "sns_configs",
        "telegram_configs",
        "victorops_configs",
        "webex_configs",
        "wechat_configs",
        "jira_configs",
        "rocketchat_configs",
    )
} | {
    "http_config": "http_config not supported (no proxy or client TLS settings yet)",
    "url_file": "url_file not supported: write url: ${VAR} and set VAR_FILE",
    "api_url_file": "api_url_file not supported: write api_url: ${VAR} and set VAR_FILE",
    "routing_key_file": "routing_key_file not supported: write ${VAR} and set VAR_FILE",
    "api_key_file": "api_key_file not supported: write api_key: ${VAR} and set VAR_FILE",
    "auth_password_file": "auth_password_file not supported: write ${VAR} and set VAR_FILE",
    "service_key": "service_key is PagerDuty's Events API v1; use routing_key (v2)",
}
_COMMON = ("send_resolved", "timeout")


@dataclass(frozen=True)
class ReceiverOptions:
    fallback: str | None = None
    rate_limit: RateLimit | None = None


@dataclass(frozen=True)
class Receivers:
    integrations: dict[str, tuple[Any, ...]]
    options: dict[str, ReceiverOptions]


class ReceiverReader(Nodes):
    def read(self, node: yaml.Node) -> Receivers:
        integrations: dict[str, tuple[Any, ...]] = {}
        options: dict[str, ReceiverOptions] = {}
        fallbacks: list[tuple[str, str, yaml.Node]] = []
        for item in self.sequence(node, "receivers"):
            keys = self.mapping(item, "receiver", _RECEIVER, _REFUSED)
            if "name" not in keys:
                raise self.fail(item, "a receiver needs a name")
            name_node = keys["name"][1]
            name = self.string(name_node, "name")
            if not name:
                raise self.fail(name_node, "a receiver name cannot be empty")
            if name in integrations:
                raise self.fail(name_node, f"receiver {name!r} is defined twice")
            configs: list[Any] = []
            for key, read in (
                ("webhook_configs", self.webhook),
                ("slack_configs", self.slack),
                ("pagerduty_configs", self.pagerduty),
                ("opsgenie_configs", self.opsgenie),
                ("email_configs", self.email),
            ):
                if key in keys:
                    for index, entry in enumerate(self.sequence(keys[key][1], key)):
                        configs.append(read(entry, name, index))
            fallback = None
            if "fallback" in keys:
                fallback = self.string(keys["fallback"][1], "fallback")
                fallbacks.append((name, fallback, keys["fallback"][1]))
            rate = self.rate_limit(keys["rate_limit"][1]) if "rate_limit" in keys else None
            integrations[name] = tuple(configs)
            options[name] = ReceiverOptions(fallback, rate)
        for name, fallback, fallback_node in fallbacks:
            if fallback not in integrations:
                raise self.fail(fallback_node, f"unknown fallback receiver {fallback!r}")
            if fallback == name:
                raise self.fail(fallback_node, "a receiver cannot be its own fallback")
        return Receivers(integrations, options)

    def rate_limit(self, node: yaml.Node) -> RateLimit:
        keys = self.mapping(node, "rate_limit", ("count", "per"))
        if "count" not in keys or "per" not in keys:
            raise self.fail(node, "rate_limit needs count and per, e.g. {count: 10, per: 1m}")
        count = self.integer(keys["count"][1], "rate_limit count", minimum=1)
        return RateLimit(count, self.duration(keys["per"][1], "rate_limit per", positive=True))

    # -- integrations -----------------------------------------------------------------

    def common(self, keys: Keys, default_resolved: bool) -> dict[str, Any]:
        found: dict[str, Any] = {"send_resolved": default_resolved, "timeout_s": 10.0}
        if "send_resolved" in keys:
            found["send_resolved"] = self.boolean(keys["send_resolved"][1], "send_resolved")
        if "timeout" in keys:
            found["timeout_s"] = self.duration(keys["timeout"][1], "timeout", positive=True)
        return found

    def required(self, node: yaml.Node, keys: Keys, key: str, what: str) -> yaml.Node:
        if key not in keys:
            raise self.fail(node, f"{what} needs {key}")
        return keys[key][1]

    def secret(self, node: yaml.Node, what: str) -> str:
        value = self.expanded(node, what)
        if not value:
            raise self.fail(node, f"{what} is empty (is its variable, or VAR_FILE, set?)")
        return value

    def webhook(self, node: yaml.Node, receiver: str, index: int) -> WebhookConfig:
        allowed = (*_COMMON, "url", "max_alerts", "signing_secrets")
        keys = self.mapping(node, "webhook_configs entry", allowed, _REFUSED)
        url = self.url(self.required(node, keys, "url", "a webhook"))
        common = self.common(keys, default_resolved=True)
        max_alerts = 0
        if "max_alerts" in keys:
            max_alerts = self.integer(keys["max_alerts"][1], "max_alerts", minimum=0)
        signer = None
        if "signing_secrets" in keys:
            secrets_node = keys["signing_secrets"][1]
            secrets = []
            for item in self.sequence(secrets_node, "signing_secrets"):
                value = self.expanded(item, "a signing secret")
                if not value:
                    continue  # ${OLD_SECRET:-}: no previous secret right now
                try:
                    Signer.from_secrets([value])
                except SecretError as exc:
                    raise self.fail(item, str(exc)) from None
                secrets.append(value)
            if not secrets:
                raise self.fail(secrets_node, "signing_secrets are all empty")
            signer = Signer.from_secrets(secrets)
        return WebhookConfig(
            receiver,
            index,
            url,
            common["send_resolved"],
            common["timeout_s"],
            max_alerts,
            signer,
        )

    def slack(self, node: yaml.Node, receiver: str, index: int) -> SlackConfig:
        allowed = (*_COMMON, "api_url", "channel", "username", "icon_emoji", "title", "text")
        keys = self.mapping(node, "slack_configs entry", allowed, _REFUSED)
        api_url = self.url(
            self.required(node, keys, "api_url", "a slack config"), "api_url", secret=True
        )
        extra: dict[str, Any] = {}
        for key in ("channel", "username", "icon_emoji"):
            if key in keys:
                extra[key] = self.expanded(keys[key][1], key)
        for key in ("title", "text"):
            if key in keys:
                extra[key] = self.template(keys[key][1], key)
        return SlackConfig(
            receiver, index, **self.common(keys, default_resolved=False), api_url=api_url, **extra
        )

    def pagerduty(self, node: yaml.Node, receiver: str, index: int) -> PagerDutyConfig:
        allowed = (
            *_COMMON,
            "routing_key",
            "url",
            "description",
            "severity",
            "severity_map",
            "source",
            "client",
        )
        keys = self.mapping(node, "pagerduty_configs entry", allowed, _REFUSED)
        key_node = self.required(node, keys, "routing_key", "a pagerduty config")
        extra: dict[str, Any] = {"routing_key": self.secret(key_node, "routing_key")}
        extra["url"] = self.url(keys["url"][1]) if "url" in keys else DEFAULT_URL
        if "description" in keys:
            extra["summary"] = self.template(keys["description"][1], "description")
        for key in ("source", "client"):
            if key in keys:
                extra[key] = self.expanded(keys[key][1], key)
        severity_map = dict(DEFAULT_SEVERITY_MAP)
        if "severity_map" in keys:
            for label_node, value_node in self.pairs(keys["severity_map"][1], "severity_map"):
                value = self.string(value_node, "a PagerDuty severity")
                if value not in SEVERITIES:
                    raise self.fail(value_node, f"PagerDuty severities are {', '.join(SEVERITIES)}")
                severity_map[self.string(label_node, "a severity label").lower()] = value
        extra["severity_map"] = severity_map
        if "severity" in keys:
            # A fixed severity for everything this integration sends.
            value = self.string(keys["severity"][1], "severity")
            if value not in SEVERITIES:
                raise self.fail(
                    keys["severity"][1], f"PagerDuty severities are {', '.join(SEVERITIES)}"
                )
            extra["severity_map"], extra["default_severity"] = {}, value
        return PagerDutyConfig(receiver, index, **self.common(keys, default_resolved=True), **extra)

    def opsgenie(self, node: yaml.Node, receiver: str, index: int) -> OpsgenieConfig:
        allowed = (
            *_COMMON,
            "api_key",
            "api_url",
            "message",
            "description",
            "source",
            "tags",
            "responders",
            "priority",
        )
        keys = self.mapping(node, "opsgenie_configs entry", allowed, _REFUSED)
        key_node = self.required(node, keys, "api_key", "an opsgenie config")
        extra: dict[str, Any] = {"api_key": self.secret(key_node, "api_key")}
        extra["api_url"] = (
            self.url(keys["api_url"][1], "api_url") if "api_url" in keys else (DEFAULT_API_URL)
        )
        for key in ("message", "description"):
            if key in keys:
                extra[key] = self.template(keys[key][1], key)
        if "source" in keys:
            extra["source"] = self.expanded(keys["source"][1], "source")
        if "tags" in keys:
            extra["tags"] = self.strings(keys["tags"][1], "a tag")
        if "responders" in keys:
            responders = []
            for item in self.sequence(keys["responders"][1], "responders"):
                fields = self.mapping(item, "a responder", ("type", "name", "id", "username"))
                if "type" not in fields or len(fields) < 2:
                    raise self.fail(item, "a responder needs a type and a name, id or username")
                responders.append({k: self.string(v, k) for k, (_, v) in fields.items()})
            extra["responders"] = tuple(responders)
        if "priority" in keys:
            value = self.string(keys["priority"][1], "priority")
            if value not in ("P1", "P2", "P3", "P4", "P5"):
                raise self.fail(keys["priority"][1], "priority is one of P1 .. P5")
            extra["priority_map"], extra["default_priority"] = {}, value
        else:
            extra["priority_map"] = dict(DEFAULT_PRIORITY_MAP)
        return OpsgenieConfig(receiver, index, **self.common(keys, default_resolved=True), **extra)

    def email(self, node: yaml.Node, receiver: str, index: int) -> EmailConfig:
        allowed = (
            *_COMMON,
            "to",
            "from",
            "smarthost",
            "hello",
            "auth_username",
            "auth_password",
            "require_tls",
            "subject",
            "text",
        )
        keys = self.mapping(node, "email_configs entry", allowed, _REFUSED)
        to_node = self.required(node, keys, "to", "an email config")
        to = tuple(
            address.strip()
            for item in self.strings(to_node, "to")
            for address in self.expanded_text(to_node, item).split(",")
            if address.strip()
        )
        if not to or not all("@" in address for address in to):
            raise self.fail(to_node, "to must hold email addresses")
        sender = self.expanded(self.required(node, keys, "from", "an email config"), "from")
        if "@" not in sender:
            raise self.fail(keys["from"][1], "from must be an email address")
        smarthost_node = self.required(node, keys, "smarthost", "an email config")
        host, _, port = self.expanded(smarthost_node, "smarthost").rpartition(":")
        if not host or not port.isdigit():
            raise self.fail(smarthost_node, "smarthost must be host:port")
        extra: dict[str, Any] = {
            "to": to,
            "sender": sender,
            "smarthost": (host.strip("[]"), int(port)),
        }
        for key in ("hello", "auth_username"):
            if key in keys:
                extra[key] = self.expanded(keys[key][1], key)
        if "auth_password" in keys:
            extra["auth_password"] = self.secret(keys["auth_password"][1], "auth_password")
        if "require_tls" in keys:
            extra["require_tls"] = self.boolean(keys["require_tls"][1], "require_tls")
        for key in ("subject", "text"):
            if key in keys:
                extra[key] = self.template(keys[key][1], key)
        return EmailConfig(receiver, index, **self.common(keys, default_resolved=False), **extra)

    def expanded_text(self, node: yaml.Node, text: str) -> str:
        from watchkeeper.yamlconf import expand_env

        try:
            return expand_env(text, self.env)  # type: ignore[arg-type]
        except ValueError as exc:
            raise self.fail(node, str(exc)) from None
