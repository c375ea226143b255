"""Python clients of the control-plane services (they need only the base install)."""

from ..control.client import ApiError
from .registry import RegistryClient

__all__ = ["ApiError", "RegistryClient"]
