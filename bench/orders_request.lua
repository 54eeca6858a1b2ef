-- Each request places one order through the buy-now checkout form, with a fresh
-- idempotency key, as one of the pre-signed-in customers (round robin).
dofile(os.getenv("ORDERS_BENCH_REPORT"))

local sessions = {}
for line in io.lines(os.getenv("ORDERS_BENCH_SESSIONS")) do
  local cookie, token, variant = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)")
  table.insert(sessions, {cookie, token, variant})
end

local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
end

local counter = 0
local prefix = ""
function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  prefix = string.format("b%d-%d-%d", tid or 0, os.time(), math.random(1, 1000000000))
end

function request()
  counter = counter + 1
  local s = sessions[(counter + (tid or 0)) % #sessions + 1]
  local body = "csrf_token=" .. s[2] .. "&idempotency_key=" .. prefix .. "-" .. counter ..
    "&variant_id=" .. s[3] .. "&quantity=1&fulfilment=delivery&payment_provider=offline" ..
    "&contact_name=Bench&contact_phone=13800000000&address=Lake+Road+1"
  return wrk.format("POST", wrk.path, {
    ["Cookie"] = s[1],
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, body)
end
