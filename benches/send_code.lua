-- A distinct phone per request, so every request issues a new code.
local counter = 0
local thread_id = 0
function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
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
