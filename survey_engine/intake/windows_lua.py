"""The circuit breakers' sliding windows in Lua, shared by two Redis scripts.

breakers.LIMIT_SCRIPT checks and counts a submission's windows alone; the accept
script (buffer.ACCEPT_SCRIPT) does the same first, in the same round trip as taking
the submission, which saves the web tier a Redis call per submission. One text, so
that both always compute the same verdict (breakers.LocalWindows repeats it in
Python for when Redis is away).

Window i's buckets are KEYS[k + 2i - 1] (previous) and KEYS[k + 2i] (current); its
limit and length in seconds are ARGV[a + 2i - 1] and ARGV[a + 2i]. Each limit is a
sliding-window counter: the previous bucket weighted by how much of it the window
still covers.
"""

from __future__ import annotations

WINDOWS_LUA = """
-- 0, 0 | i of the first window over its limit, whole seconds until it takes one more
local function windows_over(k, a, w, now)
  for i = 1, w do
    local limit = tonumber(ARGV[a + 2 * i - 1])
    local seconds = tonumber(ARGV[a + 2 * i])
    local into = (now - math.floor(now / seconds) * seconds) / seconds
    local previous = tonumber(redis.call('GET', KEYS[k + 2 * i - 1]) or '0')
    local count = tonumber(redis.call('GET', KEYS[k + 2 * i]) or '0')
    if previous * (1 - into) + count + 1 > limit + 1e-9 then
      local wait
      if count + 1 <= limit then
        -- the previous bucket's weight falls until one more fits, within this bucket
        wait = ((1 - (limit - 1 - count) / previous) - into) * seconds
      else
        -- in the next bucket this one is the previous: until its weight lets one in
        wait = (1 - into) * seconds + (1 - (limit - 1) / count) * seconds
      end
      return i, math.ceil(wait - 1e-6)
    end
  end
  return 0, 0
end
-- one more in each window's current bucket, kept while a window can still see it
local function windows_count(k, a, w, now)
  for i = 1, w do
    local seconds = tonumber(ARGV[a + 2 * i])
    redis.call('INCR', KEYS[k + 2 * i])
    redis.call('EXPIREAT', KEYS[k + 2 * i], (math.floor(now / seconds) + 2) * seconds)
  end
end
"""
