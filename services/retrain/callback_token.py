"""The token a run's pipeline calls back with: an HMAC of the run id under the service's
secret, so it needs no storage, survives restarts and opens one run only.

>>> token = callback_token("s3cret", "fraud-7")
>>> len(token), check_callback_token("s3cret", "fraud-7", token)
(43, True)
>>> check_callback_token("s3cret", "fraud-8", token)
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
