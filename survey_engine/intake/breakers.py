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

from flask import current_app

from survey_engine.intake.buffer import current_buffer
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


@dataclass(frozen=True)
class Window:
    key: str  # without the bucket number
    limit: int
    seconds: int


LIMIT_SCRIPT = """
-- KEYS[2i-1]    window i's previous bucket  (prefix:<bucket - 1>)
-- KEYS[2i]      window i's current bucket   (prefix:<bucket>)
-- ARGV[1]       now, in milliseconds
-- ARGV[2]       1: count even when over (a solved proof of work), 0: only when not
-- ARGV[2i+1]    window i's limit
-- ARGV[2i+2]    window i's length in seconds
-- returns {0, 0, 0} | {1, i of the first window over, seconds until it takes one}
local now = tonumber(ARGV[1]) / 1000
local over, wait = 0, 0
for i = 1, #KEYS / 2 do
  local limit = tonumber(ARGV[1 + 2 * i])
  local seconds = tonumber(ARGV[2 + 2 * i])
  local into = (now - math.floor(now / seconds) * seconds) / seconds
  local previous = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local count = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  if over == 0 and previous * (1 - into) + count + 1 > limit + 1e-9 then
    over = i
    if count + 1 <= limit then
      -- the previous bucket's weight falls until one more fits, within this bucket
      wait = ((1 - (limit - 1 - count) / previous) - into) * seconds
    else
      -- in the next bucket this one is the previous: until its weight lets one in
      wait = (1 - into) * seconds + (1 - (limit - 1) / count) * seconds
    end
  end
end
if over == 0 or ARGV[2] == '1' then
  for i = 1, #KEYS / 2 do
    local seconds = tonumber(ARGV[2 + 2 * i])
    redis.call('INCR', KEYS[2 * i])
    -- kept while a window can still see it: to the end of the next bucket
    redis.call('EXPIREAT', KEYS[2 * i], (math.floor(now / seconds) + 2) * seconds)
  end
end
return {over == 0 and 0 or 1, over, math.ceil(wait - 1e-6)}
"""


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
        now = round(self.clock() * 1000) / 1000  # what the script sees, to the millisecond
        if self._script is not None and time.monotonic() >= self._redis_after:
            keys: list[str] = []
            args: list[int | str] = [round(now * 1000), "1" if force else "0"]
            for window in windows:
                bucket = math.floor(now / window.seconds)
                keys += [f"{window.key}:{bucket - 1}", f"{window.key}:{bucket}"]
                args += [window.limit, window.seconds]
            try:
                over, which, wait = self._script(keys=keys, args=args)
            except REDIS_ERRORS:
                # A Redis that hangs would cost every citizen its timeout: count here
                # for a few seconds before asking it again.
                self._redis_after = time.monotonic() + REDIS_RETRY_SECONDS
                return self.local.hit(windows, now, force)
            if not over:
                return Verdict(False)
            scope = windows[int(which) - 1].key.split(":")[3]
            return Verdict(True, scope, max(1, int(wait)))
        return self.local.hit(windows, now, force)


def current_breakers() -> Breakers:
    """This app's breakers, on the submit path's Redis client when there is one (each
    app counts for itself in-process: a test's app starts with empty windows)."""
    breakers = current_app.extensions.get("breakers")
    if breakers is None:
        buffer = current_buffer()
        try:
            breakers = Breakers(buffer.client if buffer is not None else None)
        except REDIS_ERRORS:  # no client yet (a cluster that is down): count here meanwhile
            return current_app.extensions.setdefault("breakers_local", Breakers(None))
        current_app.extensions["breakers"] = breakers
    return breakers


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
