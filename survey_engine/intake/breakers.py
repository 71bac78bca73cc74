"""Circuit breakers: sliding-window limits per survey, per network key and per device.

Not walls. Citizens share carrier-grade NAT (thousands behind one IPv4 address), so
the limits are generous and going over one does not refuse anybody: the page asks
the browser for a small proof of work (intake/proof_of_work.py), the API answers 429
with Retry-After, and a form sent without JavaScript is stored with an "over_limit"
flag for staff to review. docs/abuse.md gives the numbers and why.

Each limit is a sliding-window counter: two fixed buckets, the previous one weighted
by how much of it the window still covers. Checked and counted in one atomic Redis
round trip (LIMIT_SCRIPT); the keys carry the survey's hash tag so a cluster keeps
them in one slot, and expire two windows after their bucket starts:

    se:{7}:limit:survey:<bucket>
    se:{7}:limit:network:<network key>:<bucket>
    se:{7}:limit:device:<device hash>:<bucket>

Without REDIS_URL, or when Redis fails, each process counts for itself
(LocalWindows): a citizen is never held up because Redis is down.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from flask import Flask, current_app

from survey_engine.intake.buffer import current_buffer
from survey_engine.intake.windows_lua import WINDOWS_LUA
from survey_engine.redis_connections import REDIS_ERRORS, BufferClient

# scope -> (the setting that holds its limit, its window in seconds)
SCOPES: dict[str, tuple[str, int]] = {
    "survey": ("LIMIT_SURVEY_PER_MINUTE", 60),
    "network": ("LIMIT_NETWORK_PER_MINUTE", 60),
    "device": ("LIMIT_DEVICE_PER_10_MINUTES", 600),
}


REDIS_RETRY_SECONDS = 5.0  # after a Redis error, the process counts alone this long
EPSILON = 1e-9  # 10 * (1 - 0.6) is 4.000000000000001: not over a limit of 5 for that


@dataclass(frozen=True)
class Verdict:
    over: bool
    which: str | None = None  # the first scope over its limit: survey | network | device
    retry_after: int = 0  # seconds until that scope takes one more


class Window(NamedTuple):
    """A tuple, not a frozen dataclass: every submission makes up to three (a frozen
    dataclass's __init__ sets each field through object.__setattr__)."""

    key: str  # without the bucket number
    limit: int
    seconds: int


LIMIT_SCRIPT = (
    """
-- KEYS[2i-1]    window i's previous bucket  (prefix:<bucket - 1>)
-- KEYS[2i]      window i's current bucket   (prefix:<bucket>)
-- ARGV[1]       now, in milliseconds
-- ARGV[2]       1: count even when over (a solved proof of work), 0: only when not
-- ARGV[2i+1]    window i's limit
-- ARGV[2i+2]    window i's length in seconds
-- returns {0, 0, 0} | {1, i of the first window over, seconds until it takes one}
"""
    + WINDOWS_LUA
    + """
local now = tonumber(ARGV[1]) / 1000
local over, wait = windows_over(0, 2, #KEYS / 2, now)
if over == 0 or ARGV[2] == '1' then
  windows_count(0, 2, #KEYS / 2, now)
end
return {over == 0 and 0 or 1, over, wait}
"""
)


def retry_seconds(previous: float, count: float, limit: int, into: float, seconds: int) -> int:
    """The wait LIMIT_SCRIPT computes, for the in-process windows (at least 1 s)."""
    if count + 1 <= limit:
        wait = ((1 - (limit - 1 - count) / previous) - into) * seconds
    else:
        wait = (1 - into) * seconds + (1 - (limit - 1) / count) * seconds
    return max(1, math.ceil(wait - 1e-6))


class LocalWindows:
    """The same sliding windows in this process's memory, for when Redis is not there."""

    MAX_KEYS = 200_000  # beyond this, buckets that ended are dropped (then everything)

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, windows: list[Window], now: float, force: bool = False) -> Verdict:
        with self._lock:
            verdict = Verdict(False)
            for window in windows:
                bucket = math.floor(now / window.seconds)
                into = (now - bucket * window.seconds) / window.seconds
                previous = self._counts.get((window.key, bucket - 1), 0)
                count = self._counts.get((window.key, bucket), 0)
                if previous * (1 - into) + count + 1 > window.limit + EPSILON:
                    wait = retry_seconds(previous, count, window.limit, into, window.seconds)
                    verdict = Verdict(True, window.key.split(":")[3], wait)
                    break
            if not verdict.over or force:
                for window in windows:
                    bucket = math.floor(now / window.seconds)
                    key = (window.key, bucket)
                    self._counts[key] = self._counts.get(key, 0) + 1
                if len(self._counts) > self.MAX_KEYS:
                    self._forget_before(now)
            return verdict

    def _forget_before(self, now: float) -> None:
        """Drop buckets no window can see any more; if that is not enough, all."""
        longest = max(seconds for _, seconds in SCOPES.values())
        oldest = math.floor(now / longest) * longest - longest
        self._counts = {
            key: value
            for key, value in self._counts.items()
            if (key[1] + 1) * int(key[0].rsplit(":", 1)[1]) > oldest
        }
        if len(self._counts) > self.MAX_KEYS:
            self._counts.clear()


def windows_for(
    survey_id: int, network_key: str | None, device_hash: str | None, config: dict
) -> list[Window]:
    """The windows that apply: a limit of 0 is off, a missing key skips its scope.

    The window's length is the key's last part, so the in-process fallback can tell
    which of its buckets have ended."""
    keys = {"survey": "", "network": network_key, "device": device_hash}
    windows = []
    for scope, (setting, seconds) in SCOPES.items():
        limit, key = config[setting], keys[scope]
        if limit and key is not None:
            name = f"se:{{{survey_id}}}:limit:{scope}:" + (f"{key}:" if key else "")
            windows.append(Window(f"{name}{seconds}", limit, seconds))
    return windows


class Breakers:
    """The limit script on one Redis client (None: in-process only)."""

    def __init__(self, client: BufferClient | None, clock: Callable[[], float] = time.time):
        self.client = client
        self.clock = clock
        self.local = LocalWindows()  # without Redis, or while it fails
        self._redis_after = 0.0  # monotonic time before which Redis is not asked again
        self._script = client.register_script(LIMIT_SCRIPT) if client is not None else None

    def hit(self, windows: list[Window], force: bool = False) -> Verdict:
        """Check every window and count this submission in them, atomically."""
        if not windows:
            return Verdict(False)
        now = self.now()
        if self.redis_ready():
            keys, args = self.script_keys_args(windows, now, force)
            try:
                over, which, wait = self._script(keys=keys, args=args[1:])  # type: ignore[misc]
            except REDIS_ERRORS:
                return self.redis_failed(windows, now, force)
            return self.verdict(windows, int(over), int(which), int(wait))
        return self.local.hit(windows, now, force)

    def now(self) -> float:
        """What the script sees, to the millisecond."""
        return round(self.clock() * 1000) / 1000

    def redis_ready(self) -> bool:
        return self._script is not None and time.monotonic() >= self._redis_after

    def script_keys_args(
        self, windows: list[Window], now: float, force: bool
    ) -> tuple[list[str], list[int | str]]:
        """KEYS (two buckets a window) and ARGV for the windows: the number of windows,
        now in ms, the force flag, then (limit, seconds) a window. LIMIT_SCRIPT takes
        ARGV without the first; the accept script takes all of it after its own."""
        keys: list[str] = []
        args: list[int | str] = [len(windows), round(now * 1000), "1" if force else "0"]
        for window in windows:
            bucket = math.floor(now / window.seconds)
            keys += [f"{window.key}:{bucket - 1}", f"{window.key}:{bucket}"]
            args += [window.limit, window.seconds]
        return keys, args

    @staticmethod
    def verdict(windows: list[Window], over: int, which: int, wait: int) -> Verdict:
        if not over:
            return Verdict(False)
        scope = windows[which - 1].key.split(":")[3]
        return Verdict(True, scope, max(1, wait))

    def redis_failed(self, windows: list[Window], now: float, force: bool) -> Verdict:
        """Redis did not answer: count in this process, and for a few seconds leave
        Redis alone (a Redis that hangs would cost every citizen its timeout)."""
        self._redis_after = time.monotonic() + REDIS_RETRY_SECONDS
        return self.local.hit(windows, now, force)


class OverLimit(Exception):
    """The accept script found the submission over a limit: nothing held, nothing counted."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.which)
        self.verdict = verdict


@dataclass
class Limits:
    """One submission's check of the breakers, still to run.

    The accept script runs it with the submission, in the same round trip
    (script_part, then verdict_of its 'limited:<i>:<seconds>' reply); a submission that
    stops before the accept script (a closed survey, invalid answers, an unknown access
    code) or that Redis cannot take runs it alone with check(), as the route did before
    anything else. Either way the windows count a submission once, when it is not over
    (or `force`: a solved proof of work), and the verdict is the same."""

    breakers: Breakers
    windows: list[Window]
    force: bool = False
    _now: float | None = None

    def check(self) -> Verdict:
        return self.breakers.hit(self.windows, force=self.force)

    def script_part(self) -> tuple[list[str], list[int | str]] | None:
        """(KEYS, ARGV) for the accept script; None when there is nothing to check or
        Redis is being left alone after an error (then check() counts in-process)."""
        if not self.windows or not self.breakers.redis_ready():
            return None
        self._now = self.breakers.now()
        return self.breakers.script_keys_args(self.windows, self._now, self.force)

    def verdict_of(self, reply: str) -> Verdict:
        _, which, wait = reply.split(":")
        return Breakers.verdict(self.windows, 1, int(which), int(wait))

    def redis_failed(self) -> Verdict:
        now = self._now if self._now is not None else self.breakers.now()
        return self.breakers.redis_failed(self.windows, now, self.force)


def current_breakers(app: Flask | None = None) -> Breakers:
    """This app's breakers, on the submit path's Redis client when there is one (each
    app counts for itself in-process: a test's app starts with empty windows)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    breakers = app.extensions.get("breakers")
    if breakers is None:
        buffer = current_buffer()
        try:
            breakers = Breakers(buffer.client if buffer is not None else None)
        except REDIS_ERRORS:  # no client yet (a cluster that is down): count here meanwhile
            return app.extensions.setdefault("breakers_local", Breakers(None))
        app.extensions["breakers"] = breakers
    return breakers


def limits(
    survey_id: int, network_key: str | None, device_hash: str | None, solved: bool = False
) -> Limits:
    """The check of check(), to run later (with the accept script, or alone)."""
    # One proxy lookup, not two: every submission makes its limits.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    windows = windows_for(survey_id, network_key, device_hash, app.config)
    return Limits(current_breakers(app), windows, force=solved)


def check(
    survey_id: int,
    network_key: str | None,
    device_hash: str | None,
    solved: bool = False,
) -> Verdict:
    """Is this submission over one of the survey's limits? Counts it either way when
    `solved` (it passed a proof of work, so it goes through and fills the window),
    else only when it is not over."""
    windows = windows_for(survey_id, network_key, device_hash, current_app.config)
    return current_breakers().hit(windows, force=solved)
