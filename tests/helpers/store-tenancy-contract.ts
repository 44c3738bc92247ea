import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import { newWorkerId } from '../../shared/auth/worker-credentials.js'
import { ErrorCode } from '../../shared/errors.js'
import type { GatewayStore, Registration, WorkerRecord } from '../../shared/store/gateway-store.js'
import { recordChanges } from './store-changes.js'
import { waitUntil } from './wait-until.js'
import type { StoreBackend } from './store-contract.js'

const hex = (bytes: number) => randomBytes(bytes).toString('hex')

function registration(relayKey: string, gatewayPath?: string): Registration {
  const now = Date.now()
  return {
    relayKey,
    peers: [hex(32)],
    metadata: { name: 'relay', ...(gatewayPath ? { gatewayPath } : {}) },
    nonce: hex(8),
    issuedAt: now,
    registeredAt: now,
    expiresAt: now + 60_000,
  }
}

function account(name: string): WorkerRecord {
  return {
    workerId: newWorkerId(),
    name,
    createdAt: Date.now(),
    disabledAt: null,
    sealedSecret: `v1.sealed-${hex(8)}`,
  }
}

async function codeOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (err: { code?: unknown }) => err.code,
  )
}

/**
 * Worker accounts and relay ownership (issue 15), the same for every GatewayStore. `shared`:
 * a second instance sees the first one's state and change feed.
 */
export function storeTenancyContract(
  name: string,
  shared: boolean,
  backend: () => StoreBackend,
): void {
  describe(`GatewayStore tenancy contract: ${name}`, () => {
    const opened: GatewayStore[] = []
    let store: GatewayStore
    let openPeer: () => GatewayStore
    let a: WorkerRecord
    let b: WorkerRecord
    let relay: string

    beforeEach(async () => {
      const made = backend()
      store = made.open()
      opened.push(store)
      openPeer = () => {
        const peer = made.openPeer()
        opened.push(peer)
        return peer
      }
      a = account('alice')
      b = account('bob')
      relay = hex(32)
      await store.createWorker(a)
      await store.createWorker(b)
    })

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()))
    })

    it('creates, reads and lists accounts; an id is taken once', async () => {
      expect(await store.getWorker(a.workerId)).to.deep.equal(a)
      expect(await store.getWorker(newWorkerId())).to.equal(null)
      const listed = (await store.listWorkers()).map((w) => w.workerId)
      expect(listed).to.have.members([a.workerId, b.workerId])
      expect(await codeOf(store.createWorker({ ...a, name: 'again' }))).to.equal(
        ErrorCode.WORKER_EXISTS,
      )
      expect((await store.getWorker(a.workerId))?.name).to.equal('alice')
    })

    it("stamps the owner on an account's registration and records the ownership", async () => {
      const path = 'owned-' + hex(4)
      await store.putRegistration(registration(relay, path), 60, { workerId: a.workerId })
      expect((await store.getRegistration(relay))?.workerId).to.equal(a.workerId)
      expect((await store.resolveRelay(path))?.workerId).to.equal(a.workerId)
      const owner = await store.getRelayOwner(relay)
      expect(owner).to.include({ relayKey: relay, workerId: a.workerId, gatewayPath: path })
      expect(await store.listWorkerRelays(a.workerId)).to.deep.equal([relay])
      expect(await store.listWorkerRelays(b.workerId)).to.deep.equal([])
      // Renewal by the owner keeps the first claim's time.
      await store.putRegistration(registration(relay, path), 60, { workerId: a.workerId })
      expect((await store.getRelayOwner(relay))?.claimedAt).to.equal(owner?.claimedAt)
    })

    it('never takes the owner from the caller: a shared-secret write stores none', async () => {
      const forged = { ...registration(relay), workerId: a.workerId }
      await store.putRegistration(forged, 60)
      expect(await store.getRegistration(relay)).not.to.have.property('workerId')
      expect(await store.getRelayOwner(relay)).to.equal(null)
    })

    it('refuses relay_owned to another account and to the shared secret, key and alias', async () => {
      const path = 'mine-' + hex(4)
      const reg = registration(relay, path)
      await store.putRegistration(reg, 60, { workerId: a.workerId, exclusiveAlias: true })
      const other = hex(32)
      for (const workerId of [b.workerId, null]) {
        expect(await codeOf(store.putRegistration(registration(relay), 60, { workerId }))).to.equal(
          ErrorCode.RELAY_OWNED,
        )
        expect(
          await codeOf(store.putRegistration(registration(other, path), 60, { workerId })),
        ).to.equal(ErrorCode.RELAY_OWNED)
      }
      expect(await store.getRegistration(relay)).to.deep.equal({ ...reg, workerId: a.workerId })
      expect(await store.getRegistration(other)).to.equal(null)
      expect(await store.getRelayOwner(other)).to.equal(null)
    })

    it('keeps the ownership after the registration lapses', async () => {
      const path = 'lapse-' + hex(4)
      await store.putRegistration(registration(relay, path), 0.2, { workerId: a.workerId })
      await waitUntil(async () => (await store.getRegistration(relay)) === null, {
        timeoutMs: 3_000,
        what: 'registration expiry',
      })
      const opts = { workerId: b.workerId }
      expect(await codeOf(store.putRegistration(registration(relay), 60, opts))).to.equal(
        ErrorCode.RELAY_OWNED,
      )
      expect(await codeOf(store.putRegistration(registration(hex(32), path), 60, opts))).to.equal(
        ErrorCode.RELAY_OWNED,
      )
      await store.putRegistration(registration(relay, path), 60, { workerId: a.workerId })
      expect((await store.resolveRelay(path))?.workerId).to.equal(a.workerId)
    })

    it('frees the old alias when the owner moves to a new one', async () => {
      const [first, second] = ['first-' + hex(4), 'second-' + hex(4)]
      await store.putRegistration(registration(relay, first), 60, { workerId: a.workerId })
      await store.putRegistration(registration(relay, second), 60, { workerId: a.workerId })
      const other = hex(32)
      await store.putRegistration(registration(other, first), 60, { workerId: b.workerId })
      expect((await store.resolveRelay(first))?.relayKey).to.equal(other)
      expect(
        await codeOf(
          store.putRegistration(registration(hex(32), second), 60, { workerId: b.workerId }),
        ),
      ).to.equal(ErrorCode.RELAY_OWNED)
    })

    it('lets no account take a relay live under the shared secret', async () => {
      await store.putRegistration(registration(relay), 60)
      expect(
        await codeOf(store.putRegistration(registration(relay), 60, { workerId: a.workerId })),
      ).to.equal(ErrorCode.RELAY_OWNED)
      await store.putRegistration(registration(relay), 60)
      expect(await store.removeRegistration(relay, { workerId: null })).to.equal(true)
      await store.putRegistration(registration(relay), 60, { workerId: a.workerId })
      expect((await store.getRelayOwner(relay))?.workerId).to.equal(a.workerId)
    })

    it('refuses unknown and disabled accounts worker_disabled', async () => {
      const unknown = { workerId: newWorkerId() }
      expect(await codeOf(store.putRegistration(registration(relay), 60, unknown))).to.equal(
        ErrorCode.WORKER_DISABLED,
      )
      await store.disableWorker(a.workerId)
      const opts = { workerId: a.workerId }
      expect(await codeOf(store.putRegistration(registration(relay), 60, opts))).to.equal(
        ErrorCode.WORKER_DISABLED,
      )
      expect(await store.getRegistration(relay)).to.equal(null)
    })

    it('removes an owned relay for its owner only; the owner’s removal releases it', async () => {
      const path = 'leave-' + hex(4)
      await store.putRegistration(registration(relay, path), 60, { workerId: a.workerId })
      for (const workerId of [b.workerId, null]) {
        expect(await codeOf(store.removeRegistration(relay, { workerId }))).to.equal(
          ErrorCode.RELAY_OWNED,
        )
      }
      expect(await store.getRegistration(relay)).not.to.equal(null)
      expect(await store.removeRegistration(relay, { workerId: a.workerId })).to.equal(true)
      expect(await store.getRelayOwner(relay)).to.equal(null)
      expect(await store.listWorkerRelays(a.workerId)).to.deep.equal([])
      await store.putRegistration(registration(relay, path), 60, { workerId: b.workerId })
      expect((await store.resolveRelay(path))?.workerId).to.equal(b.workerId)
    })

    it('keeps the ownership when an operator removes the registration', async () => {
      await store.putRegistration(registration(relay), 60, { workerId: a.workerId })
      expect(await store.removeRegistration(relay)).to.equal(true)
      expect(await store.getRegistration(relay)).to.equal(null)
      expect((await store.getRelayOwner(relay))?.workerId).to.equal(a.workerId)
      expect(
        await codeOf(store.putRegistration(registration(relay), 60, { workerId: b.workerId })),
      ).to.equal(ErrorCode.RELAY_OWNED)
    })

    it('disables an account: secret gone, registrations removed and announced, relays kept', async () => {
      const [r1, r2, path] = [relay, hex(32), 'dis-' + hex(4)]
      await store.putRegistration(registration(r1, path), 60, { workerId: a.workerId })
      await store.putRegistration(registration(r2), 60, { workerId: a.workerId })
      await store.putRegistration(registration(hex(32)), 60, { workerId: b.workerId })
      const watcher = shared ? openPeer() : store
      // ping resolves once the change feed is subscribed.
      await watcher.ping()
      const log = recordChanges(watcher)
      const before = log.changes.length
      const result = await store.disableWorker(a.workerId, 1_700_000_000_000)
      expect(result?.removed).to.have.members([r1, r2])
      expect(result?.worker).to.include({ disabledAt: 1_700_000_000_000, sealedSecret: null })
      expect(await store.getWorker(a.workerId)).to.deep.equal(result?.worker)
      expect(await store.resolveRelay(path)).to.equal(null)
      expect(await store.getRegistration(r2)).to.equal(null)
      const changes = (await log.waitForCount(before + 3)).slice(before)
      expect(changes[0]).to.deep.include({ type: 'worker-disabled', workerId: a.workerId })
      expect((changes[0] as { relayKeys: string[] }).relayKeys).to.have.members([r1, r2])
      expect(changes.slice(1, 3)).to.have.deep.members([
        { type: 'registration-removed', relayKey: r1 },
        { type: 'registration-removed', relayKey: r2 },
      ])
      // Its relays stay reserved to it; B's are untouched.
      expect((await store.getRelayOwner(r1))?.workerId).to.equal(a.workerId)
      expect(
        await codeOf(store.putRegistration(registration(r1), 60, { workerId: b.workerId })),
      ).to.equal(ErrorCode.RELAY_OWNED)
      expect((await store.listRegistrations()).length).to.equal(1)
      expect(await store.disableWorker(a.workerId)).to.deep.equal({
        worker: result?.worker,
        removed: [],
      })
      expect(await store.disableWorker(newWorkerId())).to.equal(null)
      log.stop()
    })

    it('releases a relay: registration removed, ownership gone, both announced', async () => {
      const path = 'free-' + hex(4)
      await store.putRegistration(registration(relay, path), 60, { workerId: a.workerId })
      const watcher = shared ? openPeer() : store
      // ping resolves once the change feed is subscribed.
      await watcher.ping()
      const log = recordChanges(watcher)
      const before = log.changes.length
      const released = await store.releaseRelay(relay)
      expect(released).to.include({ relayKey: relay, workerId: a.workerId, gatewayPath: path })
      expect(await store.getRegistration(relay)).to.equal(null)
      expect(await store.getRelayOwner(relay)).to.equal(null)
      expect(await store.listWorkerRelays(a.workerId)).to.deep.equal([])
      expect((await log.waitForCount(before + 2)).slice(before)).to.deep.equal([
        { type: 'registration-removed', relayKey: relay },
        { type: 'relay-released', relayKey: relay, workerId: a.workerId },
      ])
      expect(await store.releaseRelay(relay)).to.equal(null)
      await store.putRegistration(registration(relay, path), 60, { workerId: b.workerId })
      expect((await store.getRelayOwner(relay))?.workerId).to.equal(b.workerId)
      log.stop()
    })

    it('settles concurrent first claims: exactly one account wins', async () => {
      const rivals = [a, b]
      for (let i = 0; i < 6; i++) {
        const w = account(`rival-${i}`)
        await store.createWorker(w)
        rivals.push(w)
      }
      const results = await Promise.allSettled(
        rivals.map((w) => store.putRegistration(registration(relay), 60, { workerId: w.workerId })),
      )
      const won = results.filter((r) => r.status === 'fulfilled')
      expect(won).to.have.length(1)
      for (const r of results) {
        if (r.status === 'rejected') {
          expect((r.reason as { code: unknown }).code).to.equal(ErrorCode.RELAY_OWNED)
        }
      }
      const owner = await store.getRelayOwner(relay)
      expect((await store.getRegistration(relay))?.workerId).to.equal(owner?.workerId)
    })

    if (shared) {
      it('shares accounts and ownership between instances', async () => {
        const peer = openPeer()
        await store.putRegistration(registration(relay), 60, { workerId: a.workerId })
        expect(await peer.getWorker(a.workerId)).to.deep.equal(a)
        expect((await peer.getRelayOwner(relay))?.workerId).to.equal(a.workerId)
        expect(
          await codeOf(peer.putRegistration(registration(relay), 60, { workerId: b.workerId })),
        ).to.equal(ErrorCode.RELAY_OWNED)
      })
    }
  })
}
