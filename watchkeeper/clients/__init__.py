"""Python clients of the control-plane services (they need only the base install)."""

from ..control.client import ApiError
from .registry import RegistryClient
from .rollout import RolloutClient

__all__ = ["ApiError", "RegistryClient", "RolloutClient"]
