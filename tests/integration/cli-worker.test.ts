import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'chai'
import { verifyClientToken } from '../../shared/auth/client-token.js'
import { WORKER_ID_PATTERN, WORKER_SECRET_PATTERN } from '../../shared/auth/worker-credentials.js'
import { ErrorCode } from '../../shared/errors.js'
import { RegistrarClient } from '../../shared/worker/registrar-client.js'
import { runCli } from '../helpers/cli-process.js'
import { hexKey, memoryStores, startRegistrar } from '../helpers/registrar-harness.js'
import type { RegistrarHarness, StoreKind, ManualClock } from '../helpers/registrar-harness.js'

const ADMIN_TOKEN = 'cli-worker-admin-token-0123456789abcdef'

describe('hypertuna-gateway worker create|list|disable, and a kit worker signing as one', function () {
  this.timeout(60_000)
  let kind: StoreKind
  let h: RegistrarHarness
  let gateway: string
  let dir: string
  let adminFile: string
  const clients: RegistrarClient[] = []

  const admin = (...args: string[]) =>
    runCli([...args, '--gateway', gateway, '--admin-token-file', adminFile, '--json'])

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-cli-worker-'))
    adminFile = join(dir, 'admin')
    writeFileSync(adminFile, `${ADMIN_TOKEN}\n`)
    kind = memoryStores()
    const clock = { now: () => Date.now() } as ManualClock
    h = startRegistrar({
      store: kind.create(clock),
      clock,
      options: { adminToken: ADMIN_TOKEN, workerSecretKey: randomBytes(32).toString('hex') },
    })
    const address = await h.server.listen()
    gateway = `http://127.0.0.1:${address.port}`
  })

  after(async () => {
    await Promise.all(clients.map((c) => c.close()))
    await h?.close()
    await kind?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('creates an account (secret shown once, or written to a new 600 file), lists it', async () => {
    const shown = await admin('worker', 'create', 'alice')
    expect(shown.code, shown.stderr).to.equal(0)
    const created = shown.json[0] as { ok: boolean; workerId: string; secret: string }
    expect(created.ok).to.equal(true)
    expect(created.workerId).to.match(WORKER_ID_PATTERN)
    expect(created.secret).to.match(WORKER_SECRET_PATTERN)

    const file = join(dir, 'bob.secret')
    const written = await admin('worker', 'create', 'bob', '--secret-out', file)
    expect(written.code, written.stderr).to.equal(0)
    expect(written.stdout).not.to.match(/[0-9a-f]{64}/)
    expect(readFileSync(file, 'utf8').trim()).to.match(WORKER_SECRET_PATTERN)
    expect(statSync(file).mode & 0o777).to.equal(0o600)
    const again = await admin('worker', 'create', 'carol', '--secret-out', file)
    expect(again.code).to.equal(1)
    expect((again.json[0]?.error as { code: string }).code).to.equal('secret_out_unwritable')

    const listed = await admin('worker', 'list')
    expect(listed.code).to.equal(0)
    const workers = (listed.json[0] as { workers: Array<Record<string, unknown>> }).workers
    expect(workers.map((w) => w.name)).to.deep.equal(['alice', 'bob', 'carol'])
    expect(listed.stdout).not.to.contain(created.secret)
    const human = await runCli([
      'worker',
      'list',
      '--gateway',
      gateway,
      '--admin-token-file',
      adminFile,
    ])
    expect(human.stdout).to.contain('alice').and.contain('active')
  })

  it('a RegistrarClient with workerId registers, reads, mints and unregisters its own relay', async () => {
    const created = (await admin('worker', 'create', 'kit')).json[0] as {
      workerId: string
      secret: string
    }
    const client = new RegistrarClient({
      registrarUrl: gateway,
      secret: created.secret,
      workerId: created.workerId,
    })
    clients.push(client)
    const relayKey = hexKey()
    await client.register({ relayKey, peers: [hexKey()], metadata: { name: 'kit relay' } })
    expect((await h.store.getRelayOwner(relayKey))?.workerId).to.equal(created.workerId)
    const read = await client.getRegistration(relayKey)
    expect(read.registration.workerId).to.equal(created.workerId)
    const grant = await client.issueToken(relayKey, { via: 'registrar' })
    expect(verifyClientToken(created.secret, grant.token, { relayKey }).ok).to.equal(true)
    // Another account's client is refused on this relay.
    const other = (await admin('worker', 'create', 'other')).json[0] as {
      workerId: string
      secret: string
    }
    const intruder = new RegistrarClient({
      registrarUrl: gateway,
      secret: other.secret,
      workerId: other.workerId,
    })
    clients.push(intruder)
    const refused = await intruder.register({ relayKey, peers: [hexKey()] }).then(
      () => expect.fail('registered another account’s relay'),
      (err: { code?: string; registrarCode?: string }) => err,
    )
    expect(refused.code).to.equal(ErrorCode.REGISTRAR_REJECTED)
    expect(refused.registrarCode).to.equal('relay_owned')
    expect(await client.unregister(relayKey)).to.deep.equal({
      form: 'replay-proof',
      removed: true,
    })
    expect(await h.store.getRelayOwner(relayKey)).to.equal(null)
  })

  it('disable removes the account’s registrations; relay release frees a relay', async () => {
    const created = (await admin('worker', 'create', 'leaver')).json[0] as {
      workerId: string
      secret: string
    }
    const client = new RegistrarClient({
      registrarUrl: gateway,
      secret: created.secret,
      workerId: created.workerId,
    })
    clients.push(client)
    const [kept, freed] = [hexKey(), hexKey()]
    await client.register({ relayKey: kept, peers: [hexKey()] })
    await client.register({ relayKey: freed, peers: [hexKey()] })
    const released = await admin('relay', 'release', freed)
    expect(released.code, released.stdout).to.equal(0)
    expect(released.json[0]).to.deep.include({ relayKey: freed, workerId: created.workerId })
    const disabled = await admin('worker', 'disable', created.workerId)
    expect(disabled.code, disabled.stdout).to.equal(0)
    expect(disabled.json[0]).to.deep.include({ workerId: created.workerId, removed: [kept] })
    expect(await h.store.resolveRelay(kept)).to.equal(null)
    const unknown = await admin('worker', 'disable', '0'.repeat(32))
    expect(unknown.code).to.equal(3)
    expect((unknown.json[0]?.error as { code: string }).code).to.equal('worker_unknown')
    const usage = await admin('worker', 'frobnicate')
    expect(usage.code).to.equal(2)
  })
})
