-- work.lua: the benchmark workloads of bench/plugins/work.c, in Lua 5.4,
-- with the same algorithms (recursive fib, heap sort of int32 values,
-- one transformed byte out per byte in, one host callback).

local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

local function sift(a, root, n) -- a is 1-based; root and n 0-based
  while true do
    local child = 2 * root + 1
    if child >= n then return end
    if child + 1 < n and a[child + 2] > a[child + 1] then child = child + 1 end
    if a[root + 1] >= a[child + 1] then return end
    a[root + 1], a[child + 1] = a[child + 1], a[root + 1]
    root = child
  end
end

local unpack, pack = string.unpack, string.pack

local function sort(bytes)
  local n = #bytes // 4
  local a = {}
  for i = 1, n do a[i] = unpack("<i4", bytes, 4 * i - 3) end
  for i = n // 2 - 1, 0, -1 do sift(a, i, n) end
  for i = n - 1, 1, -1 do
    a[1], a[i + 1] = a[i + 1], a[1]
    sift(a, 0, i)
  end
  local out = {}
  for i = 1, n do out[i] = pack("<i4", a[i]) end
  return table.concat(out)
end

local xor = {}
for b = 0, 255 do xor[string.char(b)] = string.char(b ~ 0x5a) end

local function bulk(bytes)
  return (bytes:gsub(".", xor))
end

local function hostcall(x)
  return host.triple(x)
end

return {
  name = "work",
  version = "1.0.0",
  exports = {
    fib = {sig = "(i32)->i64", fn = fib},
    sort = {sig = "(bytes)->bytes", fn = sort},
    bulk = {sig = "(bytes)->bytes", fn = bulk},
    hostcall = {sig = "(i32)->i32", fn = hostcall},
    sum = {sig = "(i32,i32)->i32", fn = function(a, b) return a + b end},
    greet = {sig = "(str)->str", fn = function(s) return "hello, " .. s end},
  },
}
