"""Launchers: how a retraining run starts a pipeline, and how the service follows it.

Every launcher has one shape (``launch``, ``poll``, ``cancel``; see ``base``): the local
command runner (``local``) and the webhook launchers (``webhook``, with the Airflow,
GitHub Actions, Kubeflow Pipelines and generic templates in ``templates``). ``build``
makes one from the policy's ``launcher`` section.
"""

from .base import Launched, Launcher, LaunchError, Retry, RunContext, Status
from .factory import KINDS, build
from .local import LocalLauncher
from .templates import Airflow, Generic, GitHub, Kubeflow
from .webhook import WebhookLauncher

__all__ = [
    "KINDS",
    "Airflow",
    "Generic",
    "GitHub",
    "Kubeflow",
    "LaunchError",
    "Launched",
    "Launcher",
    "LocalLauncher",
    "Retry",
    "RunContext",
    "Status",
    "WebhookLauncher",
    "build",
]
