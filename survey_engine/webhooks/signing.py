"""The signature of a delivery: HMAC-SHA256 of "<timestamp>.<body>" with the endpoint's
secret, sent as `Survey-Engine-Signature: t=<timestamp>,v1=<hex digest>`
(docs/webhooks.md shows a receiver checking it)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Survey-Engine-Signature"
EVENT_HEADER = "Survey-Engine-Event"
EVENT_ID_HEADER = "Survey-Engine-Event-Id"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header's value for `body` sent at `timestamp` (seconds since the epoch)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"
