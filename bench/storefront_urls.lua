-- Many storefront pages, not one: each request takes the next path of the list in
-- STOREFRONT_BENCH_URLS (one path a line, shuffled by the Python script), each wrk thread
-- starting at its own place in the list. The report comes from wrk_report.lua.
dofile(os.getenv("STOREFRONT_BENCH_REPORT"))

local paths = {}
for line in io.lines(os.getenv("STOREFRONT_BENCH_URLS")) do
  if line ~= "" then
    table.insert(paths, line)
  end
end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local position = 0
function init(args)
  -- Thread 1 starts at the top, thread 2 half-way down: together they cover the list.
  position = math.floor(((tid or 1) - 1) * #paths / 2)
end

function request()
  position = position % #paths + 1
  return wrk.format("GET", paths[position])
end
