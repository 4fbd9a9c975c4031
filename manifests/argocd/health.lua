-- Argo CD health of HomeOpsDatabase, CacheTier and ReplicaSet (homeops.io), from the conditions
-- the operator writes (kstatus conventions): the same script for the three kinds.
--   Progressing: no status yet, or the operator has not observed this generation, or it is
--                still working towards Ready (Reconciling=True) for less than 10 minutes.
--   Degraded:    Stalled=True (an error a retry cannot fix), or Ready=False and the operator has
--                stopped working on it, or Ready=False for 10 minutes or more.
--   Healthy:     Ready=True for the observed generation.
local hs = { status = "Progressing", message = "Waiting for the operator to report status" }
local timeout = 600
if obj.status == nil then
  return hs
end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.message = "Generation " .. tostring(generation) .. " not yet observed by the operator"
  return hs
end
local conditions = {}
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    conditions[c.type] = c
  end
end
local function describe(c)
  local text = c.reason or c.type
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end
local stalled = conditions["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  return { status = "Degraded", message = describe(stalled) }
end
local ready = conditions["Ready"]
if ready == nil then
  return hs
end
if ready.status == "True" then
  return { status = "Healthy", message = describe(ready) }
end
-- Seconds since Ready last changed, when Argo CD's safe os module and the time are there.
local function age(c)
  local ok, os = pcall(require, "os")
  if not ok or os == nil or c.lastTransitionTime == nil then
    return nil
  end
  local y, mo, d, h, mi, s = string.match(c.lastTransitionTime, "^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  if y == nil then
    return nil
  end
  local now = os.date("!*t")
  local function utc(t)
    return os.time({ year = t.year, month = t.month, day = t.day, hour = t.hour, min = t.min, sec = t.sec })
  end
  return utc(now) - utc({ year = tonumber(y), month = tonumber(mo), day = tonumber(d), hour = tonumber(h), min = tonumber(mi), sec = tonumber(s) })
end
local reconciling = conditions["Reconciling"]
local working = reconciling ~= nil and reconciling.status == "True"
local since = age(ready)
if working and (since == nil or since < timeout) then
  return { status = "Progressing", message = describe(ready) }
end
return { status = "Degraded", message = describe(ready) }
