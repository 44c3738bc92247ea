import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

/** A Lua script run with EVALSHA, falling back to EVAL when the server does not know it yet. */
export interface RedisScript {
  readonly lua: string
  readonly sha: string
}

function script(lua: string): RedisScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
}

// The alias a stored registration claims. A corrupt value claims none: its alias then simply
// lapses with the same TTL, and readers check that an alias and its registration agree.
const OLD_PATH = `
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

/**
 * Stores a registration and its alias with one expiry, drops the alias of the registration it
 * replaces (when the path changed and the alias is still ours) and announces the change. With
 * a relayPrefix (exclusive claim) it returns 0 and writes nothing when another live relay holds
 * the alias (its registration still claims that path); 1 otherwise. One script, so of
 * concurrent exclusive claims of one path exactly one wins.
 *
 * KEYS: relay key, [new alias key]. ARGV: json, ttlMs, relayKey, aliasPrefix, newPath (or ''),
 * channel, message, relayPrefix (or '': the newest write takes the alias).
 *
 * The old alias key and the holder's registration key are derived inside the script, so this
 * script is for standalone/Sentinel Redis, not Redis Cluster.
 */
export const PUT_REGISTRATION = script(`${OLD_PATH}
local json, ttl, relayKey, aliasPrefix, newPath = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
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
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
`)

/**
 * Removes a registration and (if still ours) its alias, and announces it. Returns 1 when
 * there was a registration, else 0 (and announces nothing).
 *
 * KEYS: relay key. ARGV: relayKey, aliasPrefix, channel, message.
 */
export const REMOVE_REGISTRATION = script(`${OLD_PATH}
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
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
