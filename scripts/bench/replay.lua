-- wrk script: replays complete HTTP/1.1 requests from files, round-robin (scripts/bench.sh PUT
-- runs). Usage: wrk ... -s replay.lua URL -- FILE...   (each FILE: request head + body, as sent)
local reqs, i = {}, 0

init = function(args)
  for _, path in ipairs(args) do
    local f = assert(io.open(path, "rb"))
    reqs[#reqs + 1] = f:read("*a")
    f:close()
  end
  assert(#reqs > 0, "replay.lua: no request files given")
end

request = function()
  i = i % #reqs + 1
  return reqs[i]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKRESULT %d %d %d %d %d %d %d %d %d %d\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
