-- wrk script for load-testing `encore serve` (POST /predict or /embed).
--
-- Usually run through scripts/load_test.sh; by hand:
--   LOAD_TEST_TEXTS=texts.txt LOAD_TEST_JSON=summary.json wrk -t2 -c64 -d60s \
--       -s scripts/load_test.lua http://127.0.0.1:8080/predict -- min=1 max=32
--
-- Settings (wrk arguments after `--` as key=value override the environment):
--   texts=FILE     LOAD_TEST_TEXTS        one text per line (required; empty lines skipped)
--   min=N          LOAD_TEST_MIN_BATCH    fewest texts per request (1)
--   max=N          LOAD_TEST_MAX_BATCH    most texts per request (32)
--   seed=N         LOAD_TEST_SEED         base seed; thread i uses seed + 7919*i (12345)
--   requests=N     LOAD_TEST_MAX_REQUESTS stop after N responses in all (0: only --duration)
--   threads=N      LOAD_TEST_THREADS      wrk's -t, to split `requests` between threads (1)
-- and, environment only (done() runs in wrk's main Lua state, which gets no arguments):
--                  LOAD_TEST_JSON         where done() writes the summary as JSON (none)
--
-- Each request is {"inputs": [...]} with a batch of min..max texts (Park-Miller PRNG,
-- deterministic per thread), taken in file order from a per-thread starting offset and
-- cycling. (On /predict a batch of two is sent as [["a"],["b"]], since ["a","b"] would be
-- one text pair there.) Every response is counted by HTTP status; for 2xx responses the
-- texts sent and the `x-compute-tokens` header are summed. done() (in wrk's main Lua
-- state) collects the per-thread counters with thread:get() and prints one block of
-- `key value` lines plus one `LOAD_TEST_SUMMARY {json}` line.
--
-- Matching a response to the batch size of its request: wrk gives response() neither the
-- connection nor the request, and with several connections per thread the replies come
-- back in any order. So each body is padded with trailing spaces (valid JSON whitespace)
-- until its length identifies the batch size (length % (max-min+1) == n-min), and encore's
-- `x-compute-characters` header (the request body's length) gives it back. Every sent
-- length is also remembered; a reply whose header is missing or unknown is counted as
-- `unmatched_responses` and credited with the mean batch size sent instead.

local function setting(args, key, env, default)
   if args and args[key] ~= nil then return args[key] end
   local v = os.getenv(env)
   if v ~= nil and v ~= "" then return v end
   return default
end

local function parse_args(argv)
   local out = {}
   for _, a in pairs(argv or {}) do
      local k, v = tostring(a):match("^([%w_]+)=(.*)$")
      if k then out[k] = v end
   end
   return out
end

local function to_int(v, name)
   local n = tonumber(v)
   if not n or n ~= math.floor(n) then
      error("load_test.lua: " .. name .. " must be an integer, got '" .. tostring(v) .. "'")
   end
   return n
end

-- JSON string escaping: quote, backslash and every control character (U+0000..U+001F,
-- and DEL for good measure); all other bytes, UTF-8 included, pass through unchanged.
local escapes = {
   ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
   ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}
local function json_string(s)
   return '"' .. s:gsub('[%z\1-\31"\\\127]', function(c)
      return escapes[c] or string.format('\\u%04x', c:byte())
   end) .. '"'
end

-------------------------------------------------------------------------------------------
-- main state: setup() and done()

local threads = {}
local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("id", thread_count)
   table.insert(threads, thread)
end

-------------------------------------------------------------------------------------------
-- thread states: init(), request(), response()

local texts = {}       -- JSON-escaped, quoted texts
local min_batch, max_batch, span
local rng_state
local cursor
local max_responses    -- this thread's share of `requests`, or nil
local predict          -- the route is /predict
local sent_len = {}    -- body length -> batch size, for every body this thread built

-- Counters read by done() through thread:get(). They are plain numbers and strings: wrk
-- 4.1's script_copy_value() pops one value too many after copying a table, so a table
-- (nested ones crash in lua_next) must not cross between Lua states.
stat_requests = 0           -- request() calls (bodies built)
stat_sent_texts = 0         -- texts in those bodies
stat_responses = 0
stat_ok = 0                 -- 2xx responses
stat_ok_texts = 0           -- texts in 2xx responses
stat_ok_tokens = 0          -- sum of x-compute-tokens over 2xx responses
stat_ok_missing_tokens = 0  -- 2xx responses without x-compute-tokens
stat_unmatched = 0          -- 2xx responses whose batch size was estimated
status_codes = ""           -- "200,422": the codes seen; the count of code C is status_C
local status_count = {}

-- a monotonic clock in microseconds (LuaJIT's FFI), to time runs that --requests ends early
local now_us
do
   local ok, ffi = pcall(require, "ffi")
   if ok then
      pcall(ffi.cdef, "typedef struct { long tv_sec; long tv_nsec; } lt_timespec;"
                   .. "int clock_gettime(int clk_id, lt_timespec *tp);")
      local ts = ffi.new("lt_timespec")
      now_us = function()
         ffi.C.clock_gettime(1, ts)   -- CLOCK_MONOTONIC
         return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
      end
   end
end
local start_us
stat_stopped_after_us = 0   -- set when this thread stops at its share of `requests`

local function next_random()
   rng_state = (rng_state * 16807) % 2147483647   -- exact in doubles (< 2^46)
   return rng_state
end

function init(argv)
   local args = parse_args(argv)
   local path = setting(args, "texts", "LOAD_TEST_TEXTS", nil)
   if not path then error("load_test.lua: no texts file (LOAD_TEST_TEXTS or texts=FILE)") end
   min_batch = to_int(setting(args, "min", "LOAD_TEST_MIN_BATCH", "1"), "min batch")
   max_batch = to_int(setting(args, "max", "LOAD_TEST_MAX_BATCH", "32"), "max batch")
   if min_batch < 1 or max_batch < min_batch then
      error("load_test.lua: need 1 <= min batch <= max batch")
   end
   span = max_batch - min_batch + 1
   predict = (wrk.path or ""):match("/predict/?$") ~= nil
   cfg_min_batch, cfg_max_batch = min_batch, max_batch   -- globals: read by done()

   local f, err = io.open(path, "rb")
   if not f then error("load_test.lua: cannot open texts file: " .. tostring(err)) end
   for line in f:lines() do
      line = line:gsub("\r$", "")
      if line ~= "" then texts[#texts + 1] = json_string(line) end
   end
   f:close()
   if #texts == 0 then error("load_test.lua: no texts in " .. path) end

   local seed = to_int(setting(args, "seed", "LOAD_TEST_SEED", "12345"), "seed")
   rng_state = (seed + 7919 * id) % 2147483646 + 1   -- in [1, 2^31 - 2]
   for _ = 1, 4 do next_random() end                 -- spread nearby seeds apart

   local total = to_int(setting(args, "requests", "LOAD_TEST_MAX_REQUESTS", "0"), "requests")
   local nthreads = to_int(setting(args, "threads", "LOAD_TEST_THREADS", "1"), "threads")
   cursor = math.floor((id - 1) * #texts / math.max(nthreads, id)) % #texts + 1
   if total > 0 then
      max_responses = math.floor(total / nthreads) + ((id <= total % nthreads) and 1 or 0)
      if max_responses == 0 then max_responses = 1 end
   end
   if now_us then start_us = now_us() end
end

local headers = { ["Content-Type"] = "application/json" }
local parts = {}

function request()
   local n = min_batch + next_random() % span
   for i = 1, n do
      parts[i] = texts[cursor]
      cursor = cursor % #texts + 1
   end
   for i = n + 1, #parts do parts[i] = nil end
   local body
   if n == 2 and predict then
      -- a list of exactly two strings is one [text, text_pair] input on /predict (TEI's
      -- rule); one-element lists keep them two texts
      body = '{"inputs":[[' .. parts[1] .. '],[' .. parts[2] .. ']]}'
   else
      body = '{"inputs":[' .. table.concat(parts, ",") .. ']}'
   end
   local pad = (n - min_batch - #body) % span
   if pad > 0 then body = body .. string.rep(" ", pad) end
   sent_len[#body] = n
   stat_requests = stat_requests + 1
   stat_sent_texts = stat_sent_texts + n
   return wrk.format("POST", nil, headers, body)
end

local function header(hs, name)
   local v = hs[name]
   if v == nil then
      for k, val in pairs(hs) do
         if k:lower() == name then return val end
      end
   end
   return v
end

function response(status, hs, body)
   stat_responses = stat_responses + 1
   local c = status_count[status]
   if not c then
      c = 0
      status_codes = status_codes == "" and tostring(status) or (status_codes .. "," .. status)
   end
   status_count[status] = c + 1
   _G["status_" .. status] = c + 1
   if status >= 200 and status < 300 then
      stat_ok = stat_ok + 1
      local len = tonumber(header(hs, "x-compute-characters") or "")
      local n = len and sent_len[len]
      if n then
         stat_ok_texts = stat_ok_texts + n
      else
         stat_unmatched = stat_unmatched + 1
         stat_ok_texts = stat_ok_texts + stat_sent_texts / math.max(stat_requests, 1)
      end
      local tokens = tonumber(header(hs, "x-compute-tokens") or "")
      if tokens then
         stat_ok_tokens = stat_ok_tokens + tokens
      else
         stat_ok_missing_tokens = stat_ok_missing_tokens + 1
      end
   end
   if max_responses and stat_responses >= max_responses then
      if now_us and start_us and stat_stopped_after_us == 0 then
         stat_stopped_after_us = now_us() - start_us
      end
      wrk.thread:stop()
   end
end

-------------------------------------------------------------------------------------------
-- done() in the main state

local function json_value(v)
   local t = type(v)
   if t == "table" then
      -- tables built below are arrays of {key, value} pairs, to keep key order
      local out = {}
      for i = 1, #v do out[i] = json_string(v[i][1]) .. ":" .. json_value(v[i][2]) end
      return "{" .. table.concat(out, ",") .. "}"
   elseif t == "number" then
      if v ~= v or v == math.huge or v == -math.huge then return "null" end
      if v == math.floor(v) and math.abs(v) < 2^53 then return string.format("%d", v) end
      return string.format("%.3f", v)
   elseif t == "string" then
      return json_string(v)
   elseif t == "boolean" then
      return tostring(v)
   end
   return "null"
end

local function round(x, digits)
   local m = 10 ^ (digits or 0)
   return math.floor(x * m + 0.5) / m
end

function done(summary, latency, requests)
   local total = {
      requests = 0, sent_texts = 0, responses = 0, ok = 0, ok_texts = 0, ok_tokens = 0,
      ok_missing_tokens = 0, unmatched = 0,
   }
   local status = {}
   for _, thread in ipairs(threads) do
      for k in pairs(total) do total[k] = total[k] + (tonumber(thread:get("stat_" .. k)) or 0) end
      for code in tostring(thread:get("status_codes") or ""):gmatch("%d+") do
         local n = tonumber(code)
         status[n] = (status[n] or 0) + (tonumber(thread:get("status_" .. code)) or 0)
      end
   end
   local cfg = {}
   if threads[1] then
      cfg.min_batch = threads[1]:get("cfg_min_batch")
      cfg.max_batch = threads[1]:get("cfg_max_batch")
   end

   -- wrk's main thread sleeps the whole --duration even when every thread has stopped at
   -- its share of `requests`; then the rates are over the slowest thread's time instead
   local seconds = summary.duration / 1e6
   local all_stopped, slowest = #threads > 0, 0
   for _, thread in ipairs(threads) do
      local us = tonumber(thread:get("stat_stopped_after_us")) or 0
      if us <= 0 then all_stopped = false end
      if us > slowest then slowest = us end
   end
   local stopped_early = all_stopped and slowest / 1e6 < seconds
   if stopped_early then seconds = slowest / 1e6 end
   local e = summary.errors
   local codes = {}
   for code in pairs(status) do codes[#codes + 1] = code end
   table.sort(codes)
   local by_status, errors_by_status = {}, {}
   local non2xx = 0
   for _, code in ipairs(codes) do
      by_status[#by_status + 1] = { tostring(code), status[code] }
      if code < 200 or code >= 300 then
         errors_by_status[#errors_by_status + 1] = { tostring(code), status[code] }
         non2xx = non2xx + status[code]
      end
   end
   local socket_errors = e.connect + e.read + e.write + e.timeout
   local ms = function(us) return round(us / 1000, 3) end
   local mean_batch = total.requests > 0 and total.sent_texts / total.requests or 0

   local fields = {
      { "duration_s", round(seconds, 3) },
      { "stopped_at_request_limit", stopped_early },
      { "threads", #threads },
      { "requests", summary.requests },
      { "responses_counted", total.responses },
      { "ok_requests", total.ok },
      { "requests_per_s", round(summary.requests / seconds, 2) },
      { "ok_requests_per_s", round(total.ok / seconds, 2) },
      { "texts", round(total.ok_texts, 1) },
      { "texts_per_s", round(total.ok_texts / seconds, 2) },
      { "tokens", total.ok_tokens },
      { "tokens_per_s", round(total.ok_tokens / seconds, 2) },
      { "mean_client_batch", round(mean_batch, 3) },
      { "min_client_batch", cfg.min_batch },
      { "max_client_batch", cfg.max_batch },
      { "latency_ms", {
         { "mean", ms(latency.mean) },
         { "stdev", ms(latency.stdev) },
         { "min", ms(latency.min) },
         { "p50", ms(latency:percentile(50)) },
         { "p90", ms(latency:percentile(90)) },
         { "p95", ms(latency:percentile(95)) },
         { "p99", ms(latency:percentile(99)) },
         { "max", ms(latency.max) },
      } },
      { "status", by_status },
      { "errors", {
         { "non_2xx", non2xx },
         { "by_status", errors_by_status },
         { "connect", e.connect },
         { "read", e.read },
         { "write", e.write },
         { "timeout", e.timeout },
         { "socket_total", socket_errors },
         { "total", non2xx + socket_errors },
      } },
      { "unmatched_responses", total.unmatched },
      { "ok_without_tokens_header", total.ok_missing_tokens },
      { "bytes_read", summary.bytes },
   }

   local function flat(prefix, list)
      for _, kv in ipairs(list) do
         local k, v = kv[1], kv[2]
         if type(v) == "table" then
            if #v == 0 and (k == "by_status" or k == "status") then
               print(string.format("%-32s %s", prefix .. k, "-"))
            else
               flat(prefix .. k .. ".", v)
            end
         else
            print(string.format("%-32s %s", prefix .. k, json_value(v)))
         end
      end
   end

   print("")
   print("---- load test summary ----")
   flat("", fields)
   local line = json_value(fields)
   print("LOAD_TEST_SUMMARY " .. line)

   local path = os.getenv("LOAD_TEST_JSON")
   if path and path ~= "" then
      local f, err = io.open(path, "w")
      if f then
         f:write(line, "\n")
         f:close()
      else
         io.stderr:write("load_test.lua: cannot write " .. path .. ": " .. tostring(err) .. "\n")
      end
   end
end
