import type { Logger } from 'pino'
import type { TokenState, UsageCounters } from './gateway-store.js'
import type { RedisKeys } from './redis-keys.js'
import { ADD_USAGE, REVOKE_TOKENS, runScript } from './redis-scripts.js'
import type { RedisRun } from './redis-tenancy.js'
import { revocationTime, usageEntries } from './store-values.js'

/** RedisStore's per-relay token state and usage counters (hashes). */
export class RedisCounters {
  readonly #run: RedisRun
  readonly #keys: RedisKeys
  readonly #channel: string
  readonly #log: Logger

  constructor(options: { run: RedisRun; keys: RedisKeys; channel: string; logger: Logger }) {
    this.#run = options.run
    this.#keys = options.keys
    this.#channel = options.channel
    this.#log = options.logger
  }

  async getTokenState(relayKey: string): Promise<TokenState> {
    return this.#run('getTokenState', async (c) => {
      const [seq, minSeq, revokedAt] = await c.hmget(
        this.#keys.key('tokens', relayKey),
        'seq',
        'minSeq',
        'revokedAt',
      )
      const count = (value: string | null | undefined): number => {
        const n = Number(value ?? 0)
        if (Number.isSafeInteger(n) && n >= 0) return n
        this.#log.warn({ relayKey }, 'ignoring a corrupt token state field in redis')
        return 0
      }
      return { seq: count(seq), minSeq: count(minSeq), revokedAt: count(revokedAt) }
    })
  }

  async nextTokenSeq(relayKey: string): Promise<number> {
    return this.#run('nextTokenSeq', (c) => c.hincrby(this.#keys.key('tokens', relayKey), 'seq', 1))
  }

  async revokeTokens(relayKey: string, now?: number): Promise<TokenState> {
    const at = revocationTime(0, now ?? Date.now())
    return this.#run('revokeTokens', async (c) => {
      const reply = await runScript(
        c,
        REVOKE_TOKENS,
        [this.#keys.key('tokens', relayKey)],
        [at, relayKey, this.#channel],
      )
      if (!Array.isArray(reply) || reply.length !== 3 || !reply.every(Number.isSafeInteger)) {
        throw new Error('unexpected reply from the revoke script')
      }
      const [seq, minSeq, revokedAt] = reply as [number, number, number]
      return { seq, minSeq, revokedAt }
    })
  }

  async addUsage(key: string, counters: UsageCounters): Promise<void> {
    const args = usageEntries(counters).flat()
    await this.#run('addUsage', async (c) => {
      if (args.length > 0) await runScript(c, ADD_USAGE, [this.#keys.key('usage', key)], args)
    })
  }

  async getUsage(key: string): Promise<UsageCounters> {
    return this.#run('getUsage', async (c) => {
      const raw = await c.hgetall(this.#keys.key('usage', key))
      const entries: Array<[string, number]> = []
      for (const [name, value] of Object.entries(raw)) {
        const n = Number(value)
        if (Number.isSafeInteger(n)) entries.push([name, n])
        else this.#log.warn({ usageKey: key, counter: name }, 'ignoring a corrupt usage counter')
      }
      return Object.fromEntries(entries)
    })
  }
}
