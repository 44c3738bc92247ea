import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { OLD_PATH, OWNERSHIP } from './redis-lua.js'

/** A Lua script run with EVALSHA, falling back to EVAL when the server does not know it yet. */
export interface RedisScript {
  readonly lua: string
  readonly sha: string
}

/** A script of `lua`, with its SHA1 for EVALSHA. */
export function script(lua: string): RedisScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
}

/**
 * Stores a registration and its alias with one expiry, drops the alias of the registration it
 * replaces (when the path changed and the alias is still ours) and announces the change. With
 * a relayPrefix (exclusive claim) it returns 0 and writes nothing when another live relay holds
 * the alias (its registration still claims that path). Ownership (issue 15) first: -2 when the
 * registering account is unknown or disabled, -1 when the relay or the alias is owned by another
 * registrant (see GatewayStore.putRegistration); an account's write records it as the owner.
 * 1 on success. One script, so of concurrent claims exactly one wins.
 *
 * KEYS: relay key, [new alias key]. ARGV: json, ttlMs, relayKey, aliasPrefix, newPath (or ''),
 * channel, message, relayPrefix (or '': the newest write takes the alias), workerId (or '': the
 * shared secret), ownerPrefix, ownedAliasPrefix, workerPrefix, workerRelaysPrefix, now (ms).
 *
 * The other keys are derived inside the script, so this script is for standalone/Sentinel
 * Redis, not Redis Cluster.
 */
export const PUT_REGISTRATION = script(`${OLD_PATH}${OWNERSHIP}
local json, ttl, relayKey, aliasPrefix, newPath = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local workerId, ownerPrefix, ownedPrefix = ARGV[9], ARGV[10], ARGV[11]
if workerId ~= '' and not isActive(redis.call('GET', ARGV[12] .. workerId)) then return -2 end
local owner = ownerOf(ownerPrefix, relayKey)
if owner and owner.workerId ~= workerId then return -1 end
if not owner and workerId ~= '' and redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
if newPath ~= '' then
  local held = redis.call('GET', ownedPrefix .. newPath)
  if held and held ~= relayKey then
    local holder = ownerOf(ownerPrefix, held)
    if holder and holder.gatewayPath == newPath and holder.workerId ~= workerId then return -1 end
  end
end
if KEYS[2] and ARGV[8] ~= '' then
  local holder = redis.call('GET', KEYS[2])
  if holder and holder ~= relayKey and pathOf(redis.call('GET', ARGV[8] .. holder)) == newPath then
    return 0
  end
end
local oldPath = pathOf(redis.call('GET', KEYS[1]))
if oldPath and oldPath ~= newPath then dropAliasIfOwned(aliasPrefix, oldPath, relayKey) end
redis.call('SET', KEYS[1], json, 'PX', ttl)
if KEYS[2] then redis.call('SET', KEYS[2], relayKey, 'PX', ttl) end
if workerId ~= '' then
  local claimedAt = ARGV[14]
  if owner then
    if type(owner.claimedAt) == 'number' then claimedAt = string.format('%d', owner.claimedAt) end
    local was = owner.gatewayPath
    if type(was) == 'string' and was ~= newPath then dropAliasIfOwned(ownedPrefix, was, relayKey) end
  end
  local pathJson = 'null'
  if newPath ~= '' then
    pathJson = cjson.encode(newPath)
    redis.call('SET', ownedPrefix .. newPath, relayKey)
  end
  redis.call('SET', ownerPrefix .. relayKey, '{"relayKey":' .. cjson.encode(relayKey) ..
    ',"workerId":' .. cjson.encode(workerId) .. ',"gatewayPath":' .. pathJson ..
    ',"claimedAt":' .. claimedAt .. '}')
  redis.call('SADD', ARGV[13] .. workerId, relayKey)
end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
`)

/**
 * Removes a registration and (if still ours) its alias, and announces it. With a signer check
 * (ARGV[5] = '1'), returns -1 and changes nothing when the signer (ARGV[6]: a worker id, or ''
 * for the shared secret) may not remove the relay; the owner's removal also releases it. Returns
 * 1 when something was removed (a registration, or the owner's lapsed relay), else 0; announces
 * only a removed registration.
 *
 * KEYS: relay key. ARGV: relayKey, aliasPrefix, channel, message, check ('1' or '0'), signer,
 * ownerPrefix, ownedAliasPrefix, workerRelaysPrefix.
 */
export const REMOVE_REGISTRATION = script(`${OLD_PATH}${OWNERSHIP}
local old = redis.call('GET', KEYS[1])
local released = 0
if ARGV[5] == '1' then
  local owner = ownerOf(ARGV[7], ARGV[1])
  if owner and owner.workerId ~= ARGV[6] then return -1 end
  if not owner and ARGV[6] ~= '' and old then return -1 end
  if owner then
    release(ARGV[7], ARGV[8], ARGV[9], ARGV[1], owner)
    released = 1
  end
end
if not old then return released end
redis.call('DEL', KEYS[1])
local path = pathOf(old)
if path then dropAliasIfOwned(ARGV[2], path, ARGV[1]) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`)

/**
 * Revokes every token issued so far (minSeq = seq + 1, revokedAt never moves back) and
 * announces the new state. Returns { seq, minSeq, revokedAt }.
 *
 * KEYS: tokens hash. ARGV: now (ms), relayKey, channel.
 */
export const REVOKE_TOKENS = script(`
local function int(v) return tonumber(v) or 0 end
local seq = int(redis.call('HGET', KEYS[1], 'seq'))
local revokedAt = math.max(int(redis.call('HGET', KEYS[1], 'revokedAt')), int(ARGV[1]))
local minSeq = seq + 1
local f = function(n) return string.format('%d', n) end
redis.call('HSET', KEYS[1], 'seq', f(seq), 'minSeq', f(minSeq), 'revokedAt', f(revokedAt))
local state = '{"seq":' .. f(seq) .. ',"minSeq":' .. f(minSeq) ..
  ',"revokedAt":' .. f(revokedAt) .. '}'
local msg = '{"type":"tokens-revoked","relayKey":' .. cjson.encode(ARGV[2]) ..
  ',"state":' .. state .. '}'
redis.call('PUBLISH', ARGV[3], msg)
return { seq, minSeq, revokedAt }
`)

/**
 * Adds to several counters of one hash in one step.
 *
 * KEYS: usage hash. ARGV: field, increment, field, increment, ...
 */
export const ADD_USAGE = script(`
for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
`)

/** Runs a script by its SHA, sending the body once when the server does not have it cached. */
export async function runScript(
  client: Redis,
  script: RedisScript,
  keys: string[],
  args: Array<string | number>,
): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args)
  } catch (err) {
    // A restarted server (or SCRIPT FLUSH) has forgotten every script.
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
    return client.eval(script.lua, keys.length, ...keys, ...args)
  }
}
