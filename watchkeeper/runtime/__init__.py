"""The runtime every watchkeeper service shares: Faust app, codec, dead letters, HTTP, logs."""

from .dlq import dead_letter_headers
from .http import Health, ServiceHTTP
from .service import Service, create_app
from .settings import ServiceSettings

__all__ = [
    "Health",
    "Service",
    "ServiceHTTP",
    "ServiceSettings",
    "create_app",
    "dead_letter_headers",
]
