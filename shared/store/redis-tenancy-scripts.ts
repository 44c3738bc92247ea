import { OLD_PATH, OWNERSHIP } from './redis-lua.js'
import { script } from './redis-scripts.js'

/**
 * Disables a worker account (final): writes its record with `disabledAt` and no sealed secret,
 * removes every live registration it owns (and their aliases), announces `worker-disabled`, then
 * one `registration-removed` per relay. Returns nil for an unknown account, { recordJson } for
 * one already disabled, else { recordJson, relayKey... } (the registrations removed).
 *
 * KEYS: worker key, worker-relays set. ARGV: now (ms), workerId, relayPrefix, aliasPrefix, channel.
 */
export const DISABLE_WORKER = script(`${OLD_PATH}
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local ok, rec = pcall(cjson.decode, raw)
if not ok or type(rec) ~= 'table' then return redis.error_reply('corrupt worker record') end
if type(rec.disabledAt) == 'number' then return { raw } end
local function num(n) return string.format('%d', tonumber(n) or 0) end
local updated = '{"workerId":' .. cjson.encode(ARGV[2]) .. ',"name":' .. cjson.encode(rec.name) ..
  ',"createdAt":' .. num(rec.createdAt) .. ',"disabledAt":' .. num(ARGV[1]) ..
  ',"sealedSecret":null}'
redis.call('SET', KEYS[1], updated)
local removed = {}
for _, relayKey in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local json = redis.call('GET', ARGV[3] .. relayKey)
  if json then
    local okReg, reg = pcall(cjson.decode, json)
    if okReg and type(reg) == 'table' and reg.workerId == ARGV[2] then
      redis.call('DEL', ARGV[3] .. relayKey)
      local path = pathOf(json)
      if path then dropAliasIfOwned(ARGV[4], path, relayKey) end
      table.insert(removed, relayKey)
    end
  end
end
local quoted = {}
for i, relayKey in ipairs(removed) do quoted[i] = cjson.encode(relayKey) end
redis.call('PUBLISH', ARGV[5], '{"type":"worker-disabled","workerId":' .. cjson.encode(ARGV[2]) ..
  ',"relayKeys":[' .. table.concat(quoted, ',') .. ']}')
for i, relayKey in ipairs(removed) do
  redis.call('PUBLISH', ARGV[5], '{"type":"registration-removed","relayKey":' .. quoted[i] .. '}')
end
local out = { updated }
for i, relayKey in ipairs(removed) do out[i + 1] = relayKey end
return out
`)

/**
 * An operator's release of a relay: drops its owner record (and the owner's alias claim), then
 * its live registration with its alias, announcing `registration-removed` (when one was live)
 * and `relay-released`. Returns the owner record's JSON, or nil when the relay was not owned.
 *
 * KEYS: owner key, relay key. ARGV: relayKey, aliasPrefix, ownerPrefix, ownedAliasPrefix,
 * workerRelaysPrefix, channel.
 */
export const RELEASE_RELAY = script(`${OLD_PATH}${OWNERSHIP}
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local owner = ownerOf(ARGV[3], ARGV[1])
if not owner then
  redis.call('DEL', KEYS[1])
  return false
end
release(ARGV[3], ARGV[4], ARGV[5], ARGV[1], owner)
local json = redis.call('GET', KEYS[2])
local relayKey = cjson.encode(ARGV[1])
if json then
  redis.call('DEL', KEYS[2])
  local path = pathOf(json)
  if path then dropAliasIfOwned(ARGV[2], path, ARGV[1]) end
  redis.call('PUBLISH', ARGV[6], '{"type":"registration-removed","relayKey":' .. relayKey .. '}')
end
redis.call('PUBLISH', ARGV[6], '{"type":"relay-released","relayKey":' .. relayKey ..
  ',"workerId":' .. cjson.encode(owner.workerId) .. '}')
return raw
`)
