-- Wrong codes for phones without a live code: the cheapest path an attacker can drive.
local counter = 0
request = function()
  counter = counter + 1
  local phone = string.format("+86137%08d", counter)
  local body = '{"uuid":"' .. phone .. '","code":"000000"}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["X-Authenticator"] = "sms"}, body)
end
