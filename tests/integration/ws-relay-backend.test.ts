import { expect } from 'chai'
import { WsRelayBackend } from '../../shared/worker/ws-relay-backend.js'
import { startCoreRelay } from '../helpers/cli-process.js'
import type { CoreRelay } from '../helpers/cli-process.js'
import { freePort } from '../helpers/free-port.js'
import { note } from '../helpers/nostr.js'

const KEY_A = 'a'.repeat(32)
const KEY_B = 'b'.repeat(32)

/** Collects backend output per connectionKey and resolves waits on it. */
function outputs(backend: WsRelayBackend) {
  const seen = new Map<string, unknown[][]>()
  const waiters = new Set<() => void>()
  backend.onOutput((key, line) => {
    const list = seen.get(key) ?? []
    list.push(JSON.parse(line) as unknown[])
    seen.set(key, list)
    for (const w of [...waiters]) w()
  })
  return {
    of: (key: string) => seen.get(key) ?? [],
    until(
      key: string,
      predicate: (m: unknown[]) => boolean,
      timeoutMs = 5_000,
    ): Promise<unknown[]> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching output for ${key}`)),
          timeoutMs,
        )
        const check = () => {
          const found = (seen.get(key) ?? []).find(predicate)
          if (found === undefined) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(found)
        }
        waiters.add(check)
        check()
      })
    },
  }
}

describe('WsRelayBackend against a relay no one here wrote (@nostr-relay/core)', function () {
  this.timeout(30_000)
  let relay: CoreRelay
  before(async () => {
    relay = await startCoreRelay()
  })
  after(() => relay?.stop())

  it('gives each connectionKey its own WebSocket, pushing every answer through onOutput', async () => {
    const backend = new WsRelayBackend({ url: relay.url })
    const out = outputs(backend)
    try {
      await backend.probe()
      const tag = `b-${Date.now()}`
      expect(await backend.handleMessage(KEY_A, ['REQ', 'sub', { '#t': [tag] }])).to.deep.equal([])
      await out.until(KEY_A, (m) => m[0] === 'EOSE' && m[1] === 'sub')
      const event = note('hello', [['t', tag]])
      await backend.handleMessage(KEY_B, ['EVENT', event])
      const ok = await out.until(KEY_B, (m) => m[0] === 'OK')
      expect(ok).to.deep.equal(['OK', event.id, true, ''])
      // Live delivery to A's subscription only: B has none.
      const live = await out.until(KEY_A, (m) => m[0] === 'EVENT')
      expect((live[2] as { id: string }).id).to.equal(event.id)
      expect(out.of(KEY_B).some((m) => m[0] === 'EVENT')).to.equal(false)
      expect(backend.stats).to.include({ connections: 2, messagesIn: 2 })

      backend.closeConnection(KEY_A)
      expect(backend.stats.connections).to.equal(1)
    } finally {
      backend.close()
    }
  })

  it('answers in NIP-01 words when the local relay cannot be reached', async () => {
    const backend = new WsRelayBackend({ url: `ws://127.0.0.1:${await freePort()}` })
    try {
      let probeFailed = false
      await backend.probe().catch(() => (probeFailed = true))
      expect(probeFailed).to.equal(true)
      const event = note('lost')
      const [ok] = await backend.handleMessage(KEY_A, ['EVENT', event])
      expect(JSON.parse(ok as string)).to.deep.equal([
        'OK',
        event.id,
        false,
        'error: the relay behind this gateway is unreachable',
      ])
      const [closed] = await backend.handleMessage(KEY_A, ['REQ', 's1', {}])
      expect(JSON.parse(closed as string).slice(0, 2)).to.deep.equal(['CLOSED', 's1'])
      expect(backend.stats.connectFailures).to.be.at.least(2)
    } finally {
      backend.close()
    }
  })

  it('refuses connections past maxConnections without opening more', async () => {
    const backend = new WsRelayBackend({ url: relay.url, maxConnections: 1 })
    try {
      await backend.handleMessage(KEY_A, ['REQ', 'x', { limit: 0 }])
      const [refused] = await backend.handleMessage(KEY_B, ['REQ', 'y', { limit: 0 }])
      expect(JSON.parse(refused as string)).to.deep.equal([
        'CLOSED',
        'y',
        'error: too many connections to this relay',
      ])
      expect(backend.stats.connections).to.equal(1)
    } finally {
      backend.close()
    }
  })

  it('refuses a non-WebSocket URL at construction', () => {
    expect(() => new WsRelayBackend({ url: 'http://127.0.0.1:1' })).to.throw(TypeError)
  })
})
