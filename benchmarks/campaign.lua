-- wrk script of the campaign benchmark (benchmarks/campaign.py runs it).
--
--   wrk -t T -c C -d CAP -s benchmarks/campaign.lua URL -- RUN_TAG UNIQUE T DUP_EVERY ANSWERS [TOKENS]
--
-- Sends exactly UNIQUE submissions with new submission_ids, split over the T wrk
-- threads, plus one retry of an earlier submission (same id, same body) after every
-- DUP_EVERY new ones: 20 gives the 5% retried duplicates of the campaign.
--
-- Ids: <run tag>-<thread>-4000-a000-<index>, a valid UUID, unique per run and thread.
-- TOKENS (one-per-device surveys): a file of signed device tokens, one a line; the
-- submission of index i in thread t carries token number (t - 1) * (UNIQUE / T + 1) + i,
-- so every new submission comes from its own browser and a retry from the same one
-- (the do-nothing runs, longer than the file, go round it: their bodies look alike).
-- ANSWERS is a file of answer sets, one JSON object a line; the set of index i is a
-- function of (thread, i) alone, so a retry repeats the exact same body. Once a thread has sent everything it planned, the requests its
-- connections still ask for are GETs of the same URL ("overflow"): 405, no side effect,
-- left out of every count but wrk's own totals (its "status" errors are these 405s).
--
-- The end: when a thread has the responses to all its planned requests it prints
-- "WRK_THREAD_DONE <n>" and campaign.py, once every thread has, ends wrk with SIGINT
-- (wrk's main thread would otherwise sleep for the whole -d, which is only a cap).
-- A thread does not stop itself: a stopped wrk thread leaves connections open that
-- it never writes a request on, and each of them holds a gunicorn sync worker in
-- recv() for seconds, stalling the threads still running (seen as 2-4 s gaps).
-- Times are CLOCK_MONOTONIC microseconds (the clock of Python's time.monotonic),
-- taken at the first request a thread sends and at the last planned response it
-- receives. done() prints one line, "WRK_RESULT {json}".

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } campaign_timespec;
int clock_gettime(int clk_id, campaign_timespec *tp);
]]
local timespec = ffi.new("campaign_timespec")
local function now_us()
   ffi.C.clock_gettime(1, timespec)  -- CLOCK_MONOTONIC
   return tonumber(timespec.tv_sec) * 1000000 + math.floor(tonumber(timespec.tv_nsec) / 1000)
end

local threads = {}
local next_tid = 0

function setup(thread)
   next_tid = next_tid + 1
   thread:set("tid", next_tid)
   table.insert(threads, thread)
end

-- Globals, not locals: done() reads them through thread:get().
run_tag, unique_total, nthreads, dup_every = 0, 0, 1, 0
quota, dup_quota, planned = 0, 0, 0
sent_unique, sent_dup = 0, 0
received, accepted, duplicate, overflow = 0, 0, 0, 0
-- wrk calls request() once in the first thread's state before the run, only to check
-- what it returns (script_verify_request): that call must not use up a submission.
verifying = false
first_us, last_us = 0, 0
other = {}

local function submission_id(i)
   return string.format("%08x-%04x-4000-a000-%012x", run_tag, tid, i)
end

-- The answers: one JSON object a line, written by campaign.py from the demo
-- survey's own definition (survey_engine.fake), so they stay valid as it changes.
answers = {}

tokens = {}

local function body(i)
   local a = answers[(i * 7919 + tid * 104729) % #answers + 1]
   local device = ''
   if #tokens > 0 then
      local n = (tid - 1) * (math.floor(unique_total / nthreads) + 1) + i + 1
      device = ',"device_token":"' .. tokens[(n - 1) % #tokens + 1] .. '"'
   end
   return '{"submission_id":"' .. submission_id(i) .. '","answers":' .. a .. device .. '}'
end

local headers = {["Content-Type"] = "application/json"}

function init(args)
   run_tag = tonumber(args[1])
   unique_total = tonumber(args[2])
   nthreads = tonumber(args[3])
   dup_every = tonumber(args[4])
   for line in io.lines(args[5]) do
      table.insert(answers, line)
   end
   if args[6] then
      for line in io.lines(args[6]) do
         table.insert(tokens, line)
      end
   end
   quota = math.floor(unique_total / nthreads)
   if tid <= unique_total % nthreads then quota = quota + 1 end
   dup_quota = dup_every > 0 and math.floor(quota / dup_every) or 0
   planned = quota + dup_quota
   verifying = (tid == 1)
end

function request()
   if verifying then
      verifying = false
      return wrk.format("GET", nil, {})
   end
   local i
   if first_us == 0 then first_us = now_us() end
   if sent_dup < dup_quota and sent_unique >= dup_every * (sent_dup + 1) then
      -- A retry of one of the last DUP_EVERY submissions.
      sent_dup = sent_dup + 1
      i = sent_unique - 1 - (sent_dup * 7) % dup_every
   elseif sent_unique < quota then
      i = sent_unique
      sent_unique = sent_unique + 1
   else
      return wrk.format("GET", nil, {})  -- overflow: everything planned is on its way
   end
   return wrk.format("POST", nil, headers, body(i))
end

function response(status, headers, body)
   if status == 405 then
      overflow = overflow + 1
      return
   end
   received = received + 1
   if status == 202 then
      if string.find(body, '"duplicate"', 1, true) then
         duplicate = duplicate + 1
      else
         accepted = accepted + 1
      end
   else
      local key = tostring(status)
      other[key] = (other[key] or 0) + 1
   end
   if received == planned then
      last_us = now_us()
      io.write(string.format("WRK_THREAD_DONE %d\n", tid))
      io.flush()
   end
end

function done(summary, latency, requests)
   local per_thread = {}
   for _, thread in ipairs(threads) do
      local statuses = {}
      for status, n in pairs(thread:get("other") or {}) do
         table.insert(statuses, string.format('"%s":%d', status, n))
      end
      table.insert(per_thread, string.format(
         '{"planned":%d,"received":%d,"accepted":%d,"duplicate":%d,"overflow":%d,' ..
         '"sent_unique":%d,"sent_dup":%d,"first_us":%d,"last_us":%d,"other":{%s}}',
         thread:get("planned"), thread:get("received"), thread:get("accepted"),
         thread:get("duplicate"), thread:get("overflow"), thread:get("sent_unique"),
         thread:get("sent_dup"), thread:get("first_us"), thread:get("last_us"),
         table.concat(statuses, ",")))
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_RESULT {"duration_us":%d,"requests":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},"threads":[%s]}\n',
      summary.duration, summary.requests, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, table.concat(per_thread, ",")))
end
