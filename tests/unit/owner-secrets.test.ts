import { expect } from 'chai'
import { once } from 'node:events'
import { pino } from 'pino'
import { OwnerSecrets } from '../../proxy/owner-secrets.js'
import { WorkerSecretBox } from '../../shared/auth/worker-secret-box.js'
import type { StoreChange, WorkerRecord } from '../../shared/store/gateway-store.js'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { createLogSink } from '../helpers/log-sink.js'

const logger = pino({ level: 'silent' })
const BOX = new WorkerSecretBox('5'.repeat(64))
const A = 'a'.repeat(32)
const SECRET_A = '1'.repeat(64)

/** A MemoryStore whose getWorker calls are counted and can be made to fail. */
class CountingStore extends MemoryStore {
  calls = 0
  failing = false
  override async getWorker(id: string): Promise<WorkerRecord | null> {
    this.calls++
    if (this.failing) throw new Error('store down')
    return super.getWorker(id)
  }
  announce(change: StoreChange): void {
    this.#listeners.forEach((l) => l(change))
  }
  readonly #listeners = new Set<(c: StoreChange) => void>()
  override subscribe(listener: (c: StoreChange) => void): () => void {
    this.#listeners.add(listener)
    const off = super.subscribe(listener)
    return () => {
      this.#listeners.delete(listener)
      off()
    }
  }
}

describe('OwnerSecrets: worker accounts’ signing secrets for the gate (no network)', () => {
  let store: CountingStore
  let owners: OwnerSecrets
  let clock: number

  beforeEach(async () => {
    store = new CountingStore()
    clock = Date.now()
    await store.createWorker({
      workerId: A,
      name: 'a',
      createdAt: clock,
      disabledAt: null,
      sealedSecret: BOX.seal(A, SECRET_A),
    })
    owners = new OwnerSecrets({
      store,
      opener: BOX,
      logger,
      ttlMs: 1_000,
      negativeTtlMs: 100,
      now: () => clock,
    })
    owners.start()
  })

  afterEach(async () => {
    await owners.close()
    await store.close()
  })

  it('opens an account’s secret once and serves it from the cache within the TTL', async () => {
    expect(await owners.secret(A)).to.equal(SECRET_A)
    expect(await owners.secret(A)).to.equal(SECRET_A)
    expect(store.calls).to.equal(1)
    clock += 1_001
    expect(await owners.secret(A)).to.equal(SECRET_A)
    expect(store.calls).to.equal(2)
  })

  it('shares one store call between concurrent lookups; unknown ids are null, briefly remembered', async () => {
    const unknown = 'b'.repeat(32)
    expect(await Promise.all([owners.secret(unknown), owners.secret(unknown)])).to.deep.equal([
      null,
      null,
    ])
    expect(store.calls).to.equal(1)
    clock += 101
    await owners.secret(unknown)
    expect(store.calls).to.equal(2)
  })

  it('forgets a disabled account at once from the feed and tells its listeners', async () => {
    expect(await owners.secret(A)).to.equal(SECRET_A)
    const disabled = once(owners, 'disabled')
    await store.disableWorker(A)
    expect(await disabled).to.deep.equal([A])
    clock += 60_000
    expect(await owners.secret(A)).to.equal(null)
    expect(store.calls).to.equal(1)
  })

  it('a disabled account read from the store is null (its sealed secret is gone)', async () => {
    await store.disableWorker(A)
    const fresh = new OwnerSecrets({ store, opener: BOX, logger })
    expect(await fresh.secret(A)).to.equal(null)
    await fresh.close()
  })

  it('a secret that does not open (another account key) is null, never thrown', async () => {
    const other = new OwnerSecrets({ store, opener: new WorkerSecretBox('6'.repeat(64)), logger })
    expect(await other.secret(A)).to.equal(null)
    await other.close()
    const off = new OwnerSecrets({ store, opener: null, logger })
    expect(off.enabled).to.equal(false)
    expect(await off.secret(A)).to.equal(null)
    await off.close()
  })

  it('announces a secret that does not open and logs its code once per look-up, no secret', async () => {
    const sink = createLogSink()
    const other = new OwnerSecrets({
      store,
      opener: new WorkerSecretBox('6'.repeat(64)),
      logger: pino({ level: 'info' }, sink.stream),
      negativeTtlMs: 100,
      now: () => clock,
    })
    const unreadable: string[] = []
    other.on('unreadable', (workerId: string) => unreadable.push(workerId))
    expect(await other.secret(A)).to.equal(null)
    expect(await other.secret(A)).to.equal(null) // remembered: not looked up again
    expect(unreadable).to.deep.equal([A])
    clock += 101
    expect(await other.secret(A)).to.equal(null)
    expect(unreadable).to.deep.equal([A, A])
    const lines = sink.lines().filter((l) => l.code === 'worker_secret_unreadable')
    expect(lines.map((l) => l.workerId)).to.deep.equal([A, A])
    expect(sink.text()).not.to.contain(SECRET_A)
    await other.close()
  })

  it('serves a cached secret while the store is down, and throws when it has none', async () => {
    await owners.secret(A)
    clock += 1_001
    store.failing = true
    expect(await owners.secret(A)).to.equal(SECRET_A)
    let thrown: unknown
    await owners.secret('c'.repeat(32)).catch((err: unknown) => (thrown = err))
    expect(thrown).to.be.instanceOf(Error)
  })

  it('drops every secret after a feed gap and says so', async () => {
    await owners.secret(A)
    const resync = once(owners, 'resync')
    store.announce({ type: 'resync' })
    await resync
    await owners.secret(A)
    expect(store.calls).to.equal(2)
  })

  it('close leaves the feed and removes listeners; idempotent', async () => {
    let heard = false
    owners.on('disabled', () => (heard = true))
    await Promise.all([owners.close(), owners.close()])
    expect(owners.listenerCount('disabled')).to.equal(0)
    await store.disableWorker(A)
    await new Promise((resolve) => setImmediate(resolve))
    expect(heard).to.equal(false)
  })
})
