"""A small proof of work, asked of a browser whose submission is over a limit.

The challenge is a token signed with SECRET_KEY (itsdangerous: the survey's id, a
random nonce, the difficulty, and when it was issued). The page's own script
(static/pow.js) looks for a counter such that

    SHA-256(challenge + ":" + counter)

starts with `difficulty` zero bits (about 2**difficulty tries), and sends the form
again with both. A solution is good for CHALLENGE_SECONDS and only once: its nonce is
remembered (Redis SET NX with a TTL, in-process without Redis) until the challenge
would have expired anyway. Nothing here comes from a third party: no CAPTCHA.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import threading
import time

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from survey_engine.intake.buffer import current_buffer
from survey_engine.redis_connections import REDIS_ERRORS

CHALLENGE_SECONDS = 600
SALT = "survey-engine proof of work"
MAX_COUNTER_DIGITS = 20
MAX_CHALLENGE_LENGTH = 300  # what issue() signs is about 110 characters


class Check(enum.Enum):
    SOLVED = "solved"
    WRONG = "wrong"  # the hash does not start with enough zero bits
    BAD = "bad"  # not a challenge this server signed, or for another survey
    EXPIRED = "expired"
    USED = "used"  # this challenge was solved before


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def issue(survey_id: int, difficulty: int) -> str:
    """A new challenge for one submission to `survey_id`."""
    return str(_serializer().dumps({"s": survey_id, "n": secrets.token_hex(12), "d": difficulty}))


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def solves(challenge: str, counter: str, difficulty: int) -> bool:
    """Does `counter` solve `challenge` (the check, without the signature)?"""
    digest = hashlib.sha256(f"{challenge}:{counter}".encode()).digest()
    return leading_zero_bits(digest) >= difficulty


class UsedNonces:
    """Solved nonces this process remembers when Redis is not there."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, key: str, now: float) -> bool:
        """True the first time `key` is claimed within CHALLENGE_SECONDS."""
        with self._lock:
            if len(self._until) > 100_000:
                self._until = {k: t for k, t in self._until.items() if t > now}
            if self._until.get(key, 0) > now:
                return False
            self._until[key] = now + CHALLENGE_SECONDS + 60
            return True


def _claim(survey_id: int, nonce: str) -> bool:
    key = f"se:{{{survey_id}}}:pow:{nonce}"
    buffer = current_buffer()
    if buffer is not None:
        try:
            return bool(buffer.client.set(key, 1, nx=True, ex=CHALLENGE_SECONDS + 60))
        except REDIS_ERRORS:
            pass
    nonces = current_app.extensions.setdefault("pow_used_nonces", UsedNonces())
    return nonces.claim(key, time.time())


def verify(survey_id: int, challenge: str, counter: str, now: float | None = None) -> Check:
    """Is this a solution of a challenge issued for `survey_id` in the last
    CHALLENGE_SECONDS, never used before? A solved one is used up by this call."""
    if not (counter.isascii() and counter.isdigit() and len(counter) <= MAX_COUNTER_DIGITS):
        return Check.WRONG
    if len(challenge) > MAX_CHALLENGE_LENGTH:
        return Check.BAD
    try:
        data, issued = _serializer().loads(challenge, return_timestamp=True)
    except BadSignature:
        return Check.BAD
    age = (time.time() if now is None else now) - issued.timestamp()
    if not -60 <= age <= CHALLENGE_SECONDS:  # a minute of clocks apart between processes
        return Check.EXPIRED
    if not isinstance(data, dict) or data.get("s") != survey_id:
        return Check.BAD
    difficulty, nonce = data.get("d"), data.get("n")
    if not isinstance(difficulty, int) or not isinstance(nonce, str):
        return Check.BAD
    if not solves(challenge, counter, difficulty):
        return Check.WRONG
    return Check.SOLVED if _claim(survey_id, nonce) else Check.USED
