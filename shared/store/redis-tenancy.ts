import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { ErrorCode, GatewayError } from '../errors.js'
import type { DisabledWorker, RelayOwner, WorkerRecord } from './gateway-store.js'
import type { RedisKeys } from './redis-keys.js'
import { mgetChunked, scanKeys } from './redis-keys.js'
import { runScript } from './redis-scripts.js'
import { DISABLE_WORKER, RELEASE_RELAY } from './redis-tenancy-scripts.js'
import { normalizeWorkerRecord, parseRelayOwner, parseWorkerRecord } from './store-values.js'

/** Runs one store operation on the command connection, mapping failures to store errors. */
export type RedisRun = <T>(op: string, fn: (client: Redis) => Promise<T>) => Promise<T>

/**
 * RedisStore's worker accounts and relay ownership (issue 15). The writes that touch
 * registrations too (disable, release) are single scripts, announced in the same step; the
 * ownership checks of put and remove live in those scripts (redis-scripts.ts).
 */
export class RedisTenancy {
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

  async createWorker(record: WorkerRecord): Promise<void> {
    const stored = normalizeWorkerRecord(record)
    const key = this.#keys.key('worker', stored.workerId)
    const written = await this.#run('createWorker', (c) => c.set(key, JSON.stringify(stored), 'NX'))
    if (written !== 'OK') {
      throw new GatewayError(ErrorCode.WORKER_EXISTS, 'a worker account with this id exists', {
        details: { workerId: stored.workerId },
      })
    }
  }

  async getWorker(workerId: string): Promise<WorkerRecord | null> {
    return this.#run('getWorker', async (c) =>
      this.#worker(await c.get(this.#keys.key('worker', workerId)), workerId),
    )
  }

  async listWorkers(): Promise<WorkerRecord[]> {
    return this.#run('listWorkers', async (c) => {
      const keys = await scanKeys(c, this.#keys.of('worker'))
      const values = await mgetChunked(c, keys)
      const out: WorkerRecord[] = []
      values.forEach((raw, i) => {
        const record = this.#worker(raw, keys[i]?.slice(this.#keys.of('worker').length))
        if (record !== null) out.push(record)
      })
      return out
    })
  }

  async disableWorker(workerId: string, now: number): Promise<DisabledWorker | null> {
    const keys = [this.#keys.key('worker', workerId), this.#keys.key('worker-relays', workerId)]
    const args = [
      Math.trunc(now),
      workerId,
      this.#keys.of('relay'),
      this.#keys.of('alias'),
      this.#channel,
    ]
    const reply = await this.#run('disableWorker', (c) => runScript(c, DISABLE_WORKER, keys, args))
    if (reply === null) return null
    if (!Array.isArray(reply) || !reply.every((v) => typeof v === 'string')) {
      throw new Error('unexpected reply from the disable script')
    }
    const [json, ...removed] = reply as string[]
    const worker = this.#worker(json ?? null, workerId)
    if (worker === null) throw new Error('the disable script wrote an unreadable account')
    return { worker, removed }
  }

  async getRelayOwner(relayKey: string): Promise<RelayOwner | null> {
    return this.#run('getRelayOwner', async (c) =>
      this.#owner(await c.get(this.#keys.key('owner', relayKey)), relayKey),
    )
  }

  async listWorkerRelays(workerId: string): Promise<string[]> {
    return this.#run('listWorkerRelays', (c) =>
      c.smembers(this.#keys.key('worker-relays', workerId)),
    )
  }

  async releaseRelay(relayKey: string): Promise<RelayOwner | null> {
    const keys = [this.#keys.key('owner', relayKey), this.#keys.key('relay', relayKey)]
    const args = [
      relayKey,
      this.#keys.of('alias'),
      this.#keys.of('owner'),
      this.#keys.of('owned-alias'),
      this.#keys.of('worker-relays'),
      this.#channel,
    ]
    const reply = await this.#run('releaseRelay', (c) => runScript(c, RELEASE_RELAY, keys, args))
    return typeof reply === 'string' ? this.#owner(reply, relayKey) : null
  }

  #worker(raw: string | null, workerId: string | undefined): WorkerRecord | null {
    if (raw === null) return null
    const record = parseWorkerRecord(parseJson(raw), workerId)
    if (record === null) this.#log.warn({ workerId }, 'ignoring a corrupt worker account')
    return record
  }

  #owner(raw: string | null, relayKey: string): RelayOwner | null {
    if (raw === null) return null
    const owner = parseRelayOwner(parseJson(raw), relayKey)
    if (owner === null) this.#log.warn({ relayKey }, 'ignoring a corrupt relay owner record')
    return owner
  }
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return undefined
  }
}
