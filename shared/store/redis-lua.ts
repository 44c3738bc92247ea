// Lua pieces the RedisStore scripts share (redis-scripts.ts, redis-tenancy-scripts.ts).

// The alias a stored registration claims. A corrupt value claims none: its alias then simply
// lapses with the same TTL, and readers check that an alias and its registration agree.
export const OLD_PATH = `
local function pathOf(json)
  if not json then return nil end
  local ok, reg = pcall(cjson.decode, json)
  if not ok or type(reg) ~= 'table' or type(reg.metadata) ~= 'table' then return nil end
  local path = reg.metadata.gatewayPath
  if type(path) == 'string' and path ~= '' then return path end
  return nil
end
local function dropAliasIfOwned(aliasPrefix, path, relayKey)
  local key = aliasPrefix .. path
  if redis.call('GET', key) == relayKey then redis.call('DEL', key) end
end
`

// Relay ownership and worker accounts (issue 15). An owner record is JSON
// {relayKey, workerId, gatewayPath, claimedAt}; a corrupt one owns nothing.
export const OWNERSHIP = `
local function ownerOf(ownerPrefix, relayKey)
  local raw = redis.call('GET', ownerPrefix .. relayKey)
  if not raw then return nil end
  local ok, owner = pcall(cjson.decode, raw)
  if not ok or type(owner) ~= 'table' or type(owner.workerId) ~= 'string' then return nil end
  return owner
end
local function isActive(raw)
  if not raw then return false end
  local ok, account = pcall(cjson.decode, raw)
  return ok and type(account) == 'table' and type(account.disabledAt) ~= 'number'
end
local function release(ownerPrefix, ownedPrefix, workerRelaysPrefix, relayKey, owner)
  redis.call('DEL', ownerPrefix .. relayKey)
  local path = owner.gatewayPath
  if type(path) == 'string' and redis.call('GET', ownedPrefix .. path) == relayKey then
    redis.call('DEL', ownedPrefix .. path)
  end
  redis.call('SREM', workerRelaysPrefix .. owner.workerId, relayKey)
end
`
