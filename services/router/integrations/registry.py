"""From an integration's config to the integration that renders and sends for it."""

from __future__ import annotations

from typing import Any

from ..webhook import WebhookConfig
from .base import Integration
from .email import EmailConfig, EmailIntegration
from .opsgenie import OpsgenieConfig, OpsgenieIntegration
from .pagerduty import PagerDutyConfig, PagerDutyIntegration
from .slack import SlackConfig, SlackIntegration
from .webhook import WebhookIntegration

_KINDS: dict[type, type[Integration]] = {
    WebhookConfig: WebhookIntegration,
    SlackConfig: SlackIntegration,
    PagerDutyConfig: PagerDutyIntegration,
    OpsgenieConfig: OpsgenieIntegration,
    EmailConfig: EmailIntegration,
}


def integration_for(config: Any) -> Integration:
    """The integration of a config.

    >>> integration_for(WebhookConfig("oncall", 0, "http://127.0.0.1:1/x")).id
    'oncall/webhook/0'
    """
    return _KINDS[type(config)](config)
