-- A distinct phone per request, so every request issues a new code. `thread_id` is a global
-- (not a local) so that `thread:set` in `setup` reaches it in each thread's Lua state.
local counter = 0
thread_id = 0
local next_id = 0
function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end
request = function()
  counter = counter + 1
  local phone = string.format("+86139%02d%06d", thread_id, counter)
  local body = '{"action":"auth:signIn","verifier":"sms-console","uuid":"' .. phone .. '"}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status))
end
