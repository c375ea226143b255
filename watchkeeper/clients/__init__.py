"""Python clients of the control-plane services (they need only the base install)."""

from ..control.client import ApiError
from .registry import RegistryClient
from .retrain import RetrainClient
from .rollout import RolloutClient

__all__ = ["ApiError", "RegistryClient", "RetrainClient", "RolloutClient"]
