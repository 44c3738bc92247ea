import { expect } from 'chai'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { verifyClientToken } from '../../shared/auth/client-token.js'
import type { RegistrarAddress } from '../../registrar/registrar-server.js'
import { freePort } from '../helpers/free-port.js'
import { runCli, startCoreRelay } from '../helpers/cli-process.js'
import type { CoreRelay } from '../helpers/cli-process.js'
import {
  ManualClock,
  SECRET,
  makeRegistration,
  memoryStores,
  registrationBody,
  startRegistrar,
} from '../helpers/registrar-harness.js'
import type { RegistrarHarness, StoreKind } from '../helpers/registrar-harness.js'

const ADMIN_TOKEN = 'cli-admin-token-0123456789abcdefghijkl'

describe('hypertuna-gateway commands (exit codes, --json shape, errors)', function () {
  this.timeout(60_000)
  let kind: StoreKind
  let h: RegistrarHarness
  let off: RegistrarHarness
  let address: RegistrarAddress
  let offAddress: RegistrarAddress
  let dir: string
  let gateway: string
  let adminFile: string
  const clock = new ManualClock(Date.now())

  const admin = (...args: string[]) =>
    runCli([...args, '--gateway', gateway, '--admin-token-file', adminFile, '--json'])

  async function registered(fields: Record<string, unknown> = {}): Promise<string> {
    clock.t = Date.now()
    const registration = makeRegistration(clock, fields)
    const res = await h.server.inject({
      method: 'POST',
      url: '/api/relays',
      payload: registrationBody(registration),
    })
    expect(res.statusCode).to.equal(200)
    return registration.relayKey as string
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-cli-'))
    adminFile = join(dir, 'admin')
    writeFileSync(adminFile, `${ADMIN_TOKEN}\n`)
    writeFileSync(join(dir, 'wrong'), 'x'.repeat(40))
    writeFileSync(join(dir, 'secret'), SECRET)
    kind = memoryStores()
    h = startRegistrar({
      store: kind.create(clock),
      clock: { now: () => Date.now() } as ManualClock,
      options: { adminToken: ADMIN_TOKEN },
    })
    off = startRegistrar({ store: kind.create(clock), clock })
    address = await h.server.listen()
    offAddress = await off.server.listen()
    gateway = `http://127.0.0.1:${address.port}`
  })

  after(async () => {
    await h?.close()
    await off?.close()
    await kind?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('prints help for the program and every command (exit 0); no command is exit 2', async () => {
    const top = await runCli(['--help'])
    expect(top.code).to.equal(0)
    for (const name of ['expose', 'token', 'relay', 'status']) {
      expect(top.stdout).to.contain(name)
      const help = await runCli([name, '--help'])
      expect(help.code, name).to.equal(0)
      expect(help.stdout, name).to.contain('Usage:')
      expect(help.stdout, name).to.contain('--json')
    }
    expect((await runCli([])).code).to.equal(2)
    const unknown = await runCli(['frobnicate', '--json'])
    expect(unknown.code).to.equal(2)
    expect(unknown.json[0]).to.deep.include({ ok: false })
  })

  it('refuses bad usage with exit 2 and a usage code', async () => {
    for (const args of [
      ['token', 'mint', 'x', '--gateway', gateway],
      ['token', 'issue', '--gateway', gateway],
      ['relay', 'list', '--gateway', 'ftp://x'],
      ['relay', 'show', '--gateway', gateway],
      ['status', '--bogus'],
      ['status'],
      ['status', '--gateway', gateway],
    ]) {
      const run = await runCli([...args, '--json'])
      expect(run.code, args.join(' ')).to.equal(2)
      expect((run.json[0]?.error as { code?: string }).code, args.join(' ')).to.equal('usage')
    }
  })

  it('token issue: a valid token and its share URL; token revoke: the new minimum seq', async () => {
    const relayKey = await registered()
    const issued = await admin('token', 'issue', relayKey, '--ttl', '120')
    expect(issued.code, issued.stderr).to.equal(0)
    const body = issued.json[0] as Record<string, unknown>
    expect(body).to.include({ ok: true, relayKey })
    expect(body).to.have.keys(
      'ok',
      'relayKey',
      'token',
      'issuedAt',
      'expiresAt',
      'seq',
      'publicUrl',
      'shareUrl',
      'status',
    )
    expect(verifyClientToken(SECRET, body.token as string, { relayKey }).ok).to.equal(true)
    expect(body.expiresAt).to.equal((body.issuedAt as number) + 120_000)
    expect(body.shareUrl).to.equal(
      `ws://127.0.0.1:${address.port}/${relayKey}?token=${encodeURIComponent(body.token as string)}`,
    )
    const human = await runCli([
      'token',
      'issue',
      relayKey,
      '--gateway',
      gateway,
      '--admin-token-file',
      adminFile,
    ])
    expect(human.code).to.equal(0)
    expect(human.stdout).to.match(/^token +\S+/m)
    expect(human.stdout).to.match(/^share +ws:\/\//m)

    const revoked = await admin('token', 'revoke', relayKey)
    expect(revoked.code).to.equal(0)
    expect(revoked.json[0]).to.include({ ok: true, relayKey, minSeq: 3 })
    expect(revoked.json[0]).to.have.keys('ok', 'relayKey', 'revokedAt', 'minSeq')
  })

  it('relay list (paged, --all), show and remove', async () => {
    const keys = [await registered(), await registered({ metadata: { gatewayPath: 'cli-alias' } })]
    const all = await admin('relay', 'list', '--all', '--limit', '1')
    expect(all.code).to.equal(0)
    const listed = all.json[0] as {
      ok: boolean
      total: number
      relays: Array<{ relayKey: string }>
      nextCursor: null
    }
    expect(listed.ok).to.equal(true)
    expect(listed.nextCursor).to.equal(null)
    expect(listed.relays.length).to.equal(listed.total)
    for (const key of keys) expect(listed.relays.map((r) => r.relayKey)).to.include(key)
    const page = await admin('relay', 'list', '--limit', '1')
    expect((page.json[0] as { relays: unknown[] }).relays).to.have.length(1)
    expect((page.json[0] as { nextCursor: unknown }).nextCursor).to.be.a('string')
    const human = await runCli([
      'relay',
      'list',
      '--gateway',
      gateway,
      '--admin-token-file',
      adminFile,
    ])
    expect(human.stdout).to.match(/^RELAY +PATH +NAME/m)
    expect(human.stdout).to.contain('cli-alias')

    const shown = await admin('relay', 'show', 'cli-alias')
    expect(shown.code).to.equal(0)
    const detail = shown.json[0] as Record<string, unknown>
    expect(detail).to.include.keys('registration', 'ttlMs', 'peers', 'sessions', 'usage', 'tokens')
    expect((detail.registration as { relayKey: string }).relayKey).to.equal(keys[1])
    const removed = await admin('relay', 'remove', keys[1] as string)
    expect(removed.code).to.equal(0)
    expect(removed.json[0]).to.deep.equal({ ok: true, relayKey: keys[1], removed: true })
    const again = await admin('relay', 'show', keys[1] as string)
    expect(again.code).to.equal(3)
    expect((again.json[0]?.error as { code: string }).code).to.equal('relay_not_found')
  })

  it('status: relays, sessions and proxies', async () => {
    await registered()
    const status = await admin('status')
    expect(status.code).to.equal(0)
    expect(status.json[0]).to.include({ ok: true })
    expect(status.json[0]).to.include.keys('relays', 'sessions', 'proxies')
    const human = await runCli(['status', '--gateway', gateway, '--admin-token-file', adminFile])
    expect(human.stdout).to.match(/^relays +\d+/m)
  })

  it('exits 3 with a stable code: wrong admin token, admin API off, gateway unreachable', async () => {
    const wrong = await runCli([
      'status',
      '--gateway',
      gateway,
      '--admin-token-file',
      join(dir, 'wrong'),
      '--json',
    ])
    expect(wrong.code).to.equal(3)
    expect((wrong.json[0]?.error as { code: string }).code).to.equal('admin_unauthorized')
    const offRun = await runCli(
      ['status', '--gateway', `http://127.0.0.1:${offAddress.port}`, '--json'],
      { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN },
    )
    expect(offRun.code).to.equal(3)
    expect((offRun.json[0]?.error as { code: string }).code).to.equal('admin_api_off')
    const port = await freePort()
    const down = await runCli(['relay', 'list', '--gateway', `http://127.0.0.1:${port}`], {
      GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    })
    expect(down.code).to.equal(3)
    expect(down.stderr).to.contain('does not answer')
  })

  describe('expose errors', () => {
    let relay: CoreRelay
    before(async () => {
      relay = await startCoreRelay()
    })
    after(() => relay?.stop())

    const expose = (relayUrl: string, gatewayUrl: string, ...extra: string[]) =>
      runCli([
        'expose',
        relayUrl,
        '--gateway',
        gatewayUrl,
        '--secret-file',
        join(dir, 'secret'),
        '--bootstrap',
        '127.0.0.1:1',
        '--host',
        '127.0.0.1',
        '--json',
        ...extra,
      ])

    it('exits 4 when the local relay is unreachable', async () => {
      const run = await expose(`ws://127.0.0.1:${await freePort()}`, gateway)
      expect(run.code).to.equal(4)
      expect((run.json[0]?.error as { code: string }).code).to.equal('local_relay_unreachable')
    })

    it('exits 3 when the gateway is unreachable', async () => {
      const run = await expose(relay.url, `http://127.0.0.1:${await freePort()}`)
      expect(run.code).to.equal(3)
      expect((run.json[0]?.error as { code: string }).code).to.equal('gateway_unreachable')
    })

    it('exits 2 for a bad --mode or tunnel flag, a missing secret file or a bad relay key', async () => {
      for (const run of [
        await expose(relay.url, gateway, '--mode', 'sideways'),
        await expose(relay.url, gateway, '--http', '8080'),
        await expose(relay.url, gateway, '--mode', 'tunnel', '--http', 'x:99999'),
        await expose(relay.url, gateway, '--mode', 'tunnel', '--files', join(dir, 'none')),
        await expose(relay.url, gateway, '--mode', 'tunnel', '--files', dir, '--http', '80'),
        await expose(relay.url.replace('ws:', 'wss:'), gateway, '--mode', 'tunnel'),
        await expose(relay.url, gateway, '--relay-key', 'nothex'),
        await runCli([
          'expose',
          relay.url,
          '--gateway',
          gateway,
          '--secret-file',
          join(dir, 'none'),
          '--json',
        ]),
        await runCli(['expose', 'http://x', '--gateway', gateway, '--json']),
      ]) {
        expect(run.code, run.stdout).to.equal(2)
        expect(run.json[0]?.ok).to.equal(false)
      }
    })
  })
})
