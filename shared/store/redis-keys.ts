import type { Redis } from 'ioredis'

/** What a RedisStore key holds; the kind is the key's first part after the prefix. */
export type RedisKeyKind =
  | 'relay'
  | 'alias'
  | 'nonce'
  | 'tokens'
  | 'usage'
  | 'proxy'
  | 'owner'
  | 'owned-alias'
  | 'worker'
  | 'worker-relays'

const SCAN_COUNT = 500

/** Key names of one RedisStore prefix: `<prefix><kind>:<id>`. */
export class RedisKeys {
  readonly prefix: string

  constructor(prefix: string) {
    this.prefix = prefix
  }

  key(kind: RedisKeyKind, id: string): string {
    return `${this.prefix}${kind}:${id}`
  }

  /** The part of every key of `kind` before its id (Lua scripts derive keys from it). */
  of(kind: RedisKeyKind): string {
    return this.key(kind, '')
  }
}

/** Every key starting with `keyPrefix` (one SCAN pass; keys may come and go meanwhile). */
export async function scanKeys(client: Redis, keyPrefix: string): Promise<string[]> {
  const pattern = `${keyPrefix.replace(/[*?[\]\\]/g, '\\$&')}*`
  const keys = new Set<string>()
  let cursor = '0'
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT)
    cursor = next
    for (const key of batch) keys.add(key)
  } while (cursor !== '0')
  return [...keys]
}

/** MGET in chunks, so a long key list never makes one huge command. */
export async function mgetChunked(client: Redis, keys: string[]): Promise<Array<string | null>> {
  const out: Array<string | null> = []
  for (let i = 0; i < keys.length; i += SCAN_COUNT) {
    const chunk = keys.slice(i, i + SCAN_COUNT)
    for (const value of await client.mget(...chunk)) out.push(value ?? null)
  }
  return out
}
