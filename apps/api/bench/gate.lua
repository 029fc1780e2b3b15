-- wrk script for the proxy-gate benchmark: every request is one seeded user's session cookie and
-- that user's session host (s-<slug>.medforge.<domain>), cycling over all the seeded pairs, so
-- every answer should be 200.
--
--   wrk -t1 -c64 -d10s --latency -s gate.lua http://127.0.0.1:PORT/api/v1/auth/session-proxy \
--       -- PAIRS_FILE [DOMAIN]
--
-- PAIRS_FILE (lines `<token> <slug> ...`, written by seed_gate.py) and DOMAIN (default localhost)
-- may instead come from the environment: GATE_PAIRS, GATE_DOMAIN. done() prints
--   gate.lua: requests=N non200=M socket_errors=E
-- plus one line per non-200 status seen; the bench fails unless non200 and socket_errors are 0.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local requests = {}
local count = 0
local index = 0
non200 = 0
statuses = {}

function init(args)
   local file = args[1] or os.getenv("GATE_PAIRS")
   local domain = args[2] or os.getenv("GATE_DOMAIN") or "localhost"
   if not file then
      error("gate.lua: give the pairs file as `-- FILE` or in GATE_PAIRS")
   end
   local f = assert(io.open(file, "r"))
   for line in f:lines() do
      local token, slug = line:match("^(%S+)%s+(%S+)")
      if token then
         count = count + 1
         -- Prebuilt once: request() only hands the next one out.
         requests[count] = wrk.format("GET", wrk.path, {
            ["Host"] = "s-" .. slug .. ".medforge." .. domain,
            ["Cookie"] = "medforge_session=" .. token,
         })
      end
   end
   f:close()
   if count == 0 then
      error("gate.lua: no `<token> <slug>` lines in " .. file)
   end
end

function request()
   index = index % count + 1
   return requests[index]
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
      statuses[status] = (statuses[status] or 0) + 1
   end
end

function done(summary, latency, requests)
   local bad, seen = 0, {}
   for _, thread in ipairs(threads) do
      bad = bad + thread:get("non200")
      for status, n in pairs(thread:get("statuses")) do
         seen[status] = (seen[status] or 0) + n
      end
   end
   local e = summary.errors
   local socket_errors = e.connect + e.read + e.write + e.timeout
   io.write(string.format("gate.lua: requests=%d non200=%d socket_errors=%d\n",
                          summary.requests, bad, socket_errors))
   for status, n in pairs(seen) do
      io.write(string.format("gate.lua: status %d x %d\n", status, n))
   end
end
