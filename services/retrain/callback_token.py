"""The secrets a run hands out, HMACs under the service's secret (no storage, they
survive restarts, each opens one run only): the token its pipeline calls back with, and
the signed approve and reject links of the "approval needed" notification.

>>> token = callback_token("s3cret", "fraud-7")
>>> len(token), check_callback_token("s3cret", "fraud-7", token)
(43, True)
>>> check_callback_token("s3cret", "fraud-8", token)
False
>>> link = approval_link("s3cret", "http://retrain:8110", "fraud-7", "approve", 1_000)
>>> link.split("?")[0], check_link("s3cret", "fraud-7", "approve", 1_000, link.split("sig=")[1])
('http://retrain:8110/api/v1/runs/fraud-7/approve-link', True)
>>> check_link("s3cret", "fraud-7", "reject", 1_000, link.split("sig=")[1])
False
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def callback_token(secret: str, run_id: str) -> str:
    mac = hmac.new(secret.encode(), b"retrain-callback\0" + run_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def check_callback_token(secret: str, run_id: str, given: str) -> bool:
    return hmac.compare_digest(callback_token(secret, run_id), given)


def _link_sig(secret: str, run_id: str, decision: str, expires_ms: int) -> str:
    text = f"retrain-link\0{run_id}\0{decision}\0{expires_ms}".encode()
    mac = hmac.new(secret.encode(), text, hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def approval_link(secret: str, public_url: str, run_id: str, decision: str, expires_ms: int):
    """A link that approves (or rejects) one run until ``expires_ms``."""
    sig = _link_sig(secret, run_id, decision, expires_ms)
    return (f"{public_url.rstrip('/')}/api/v1/runs/{run_id}/{decision}-link"
            f"?expires={expires_ms}&sig={sig}")  # fmt: skip


def check_link(secret: str, run_id: str, decision: str, expires_ms: int, sig: str) -> bool:
    return hmac.compare_digest(_link_sig(secret, run_id, decision, expires_ms), sig)
