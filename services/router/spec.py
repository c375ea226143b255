"""router, declared: alerts in; notifications out to on-call receivers, with its state on
compacted topics and an HTTP API. It runs its own asyncio loop (``app.Router``)."""

from __future__ import annotations

from dataclasses import dataclass

from watchkeeper.kit import ServiceSpec, Setting

from . import routing_file
from .config import DEFAULT_CONFIG, NAME, RouterConfig
from .routing_file import RoutingConfig


@dataclass(frozen=True)
class Loaded:
    """The settings and the routing file they name, both read before anything starts."""

    settings: RouterConfig
    routing: RoutingConfig

    @property
    def service(self):
        return self.settings.service


def config() -> Loaded:
    settings = RouterConfig.from_env()
    return Loaded(settings, routing_file.load(settings.config_path))


def serve(loaded: Loaded) -> int:
    from .app import serve as serve_router  # the Kafka side, imported only to run

    return serve_router(loaded.settings, loaded.routing)


SPEC = ServiceSpec(
    name=NAME,
    summary="alerts to whoever is on call: Alertmanager's routing, grouping, inhibition, "
    "silences; escalation to incidents; webhook, Slack, PagerDuty, Opsgenie, email",
    inputs=("alerts",),
    outputs=("notification-log", "silences", "escalations", "incidents", "dlq"),
    config=config,
    engine="own",
    serve=serve,
    check_file=routing_file.load,
    config_file=Setting("WK_ROUTER_CONFIG", DEFAULT_CONFIG, "the routing file"),
    settings=(
        Setting("WK_ROUTER_EXTERNAL_URL", "", "externalURL in payloads; acknowledge links"),
        Setting("WK_ROUTER_RETRY_MAX_ATTEMPTS", "8", "attempts per notification"),
        Setting("WK_ROUTER_RETRY_MAX_ELAPSED_S", "120", "time per notification"),
        Setting("WK_ROUTER_RETRY_BASE_S", "0.5", "first backoff ceiling"),
        Setting("WK_ROUTER_RETRY_MAX_BACKOFF_S", "30", "backoff ceiling"),
        Setting("WK_ROUTER_RETRY_AFTER_MAX_S", "60", "cap on Retry-After"),
        Setting("WK_ROUTER_MAX_IN_FLIGHT", "32", "requests in flight per integration"),
        Setting("WK_ROUTER_SHUTDOWN_TIMEOUT_S", "10", "finish sends on SIGTERM"),
        Setting("WK_ROUTER_API_HOST", "127.0.0.1", "the HTTP API's address"),
        Setting("WK_ROUTER_API_PORT", "9103", "the HTTP API (0: any free port)"),
        Setting("WK_ROUTER_API_MAX_BODY_BYTES", "1048576", "larger bodies get 413"),
        Setting("WK_ROUTER_API_TOKENS[_FILE]", "none: the API refuses all", "scoped tokens"),
        Setting("WK_ROUTER_ACK_LINK_SECRET[_FILE]", "none: no links", "signs acknowledge links"),
        Setting("WK_ROUTER_SILENCE_RETENTION_S", "432000", "keep expired silences"),
    ),
    doc="docs/services/router.md",
    surface="webhooks, Slack, PagerDuty, Opsgenie, email; HTTP API (own port)",
)
