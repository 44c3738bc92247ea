import { expect } from 'chai'
import { existsSync, readFileSync } from 'node:fs'
import { spawnDemo } from '../helpers/demo-process.js'
import type { DemoProcess } from '../helpers/demo-process.js'
import { connectRelay } from '../helpers/edge-client.js'
import type { EdgeClientOptions } from '../helpers/edge-client.js'
import { collect } from '../helpers/nostr-client.js'
import { note } from '../helpers/nostr.js'
import { descendants, isAlive } from '../helpers/process-tree.js'

const RELAY_URL = /^relay url: (\S+)$/
const CA_PATH = /^ca certificate: (\S+)$/
const RUNNING = /^Running\. Press Ctrl-C to stop\.$/

/**
 * Publishes a note with one client and reads it with another through `url`: the stored copy
 * before EOSE, then a second note live.
 */
async function publishAndSubscribe(url: string, options: EdgeClientOptions): Promise<void> {
  const tag = `demo-test-${Date.now()}`
  const writer = await connectRelay(url, options)
  const reader = await connectRelay(url, options)
  try {
    const stored = note('stored before the REQ', [['t', tag]])
    await writer.publish(stored)
    const sub = collect(reader, [{ kinds: [1], '#t': [tag] }])
    await sub.eose
    expect(sub.events.map((e) => e.id)).to.deep.equal([stored.id])

    const live = note('published after EOSE', [['t', tag]])
    const arrival = sub.next((e) => e.id === live.id)
    await writer.publish(live)
    expect((await arrival).content).to.equal('published after EOSE')
  } finally {
    writer.close()
    reader.close()
  }
}

/** For a failed test: the demo must not outlive the suite. */
async function kill(demo: DemoProcess | undefined): Promise<void> {
  if (demo === undefined || demo.child.exitCode !== null || demo.child.signalCode !== null) return
  demo.child.kill('SIGKILL')
  await demo.exited
}

/** SIGINT, then: exit code 0 and nothing the demo started is still running. */
async function interruptAndCheck(demo: DemoProcess): Promise<void> {
  const started = descendants(demo.child.pid as number)
  demo.child.kill('SIGINT')
  const { code, signal } = await demo.exited
  const left = started.filter(isAlive)
  // Even when this fails, nothing may outlive the test.
  for (const proc of left) process.kill(proc.pid, 'SIGKILL')
  expect({ code, signal }, demo.stderr()).to.deep.equal({ code: 0, signal: null })
  expect(left, 'processes left running').to.deep.equal([])
}

describe('npm run demo (headless)', function () {
  this.timeout(90_000)

  describe('with caddy installed', () => {
    let demo: DemoProcess
    let relayUrl: string
    let caPath: string

    before(async () => {
      demo = spawnDemo()
      relayUrl = (await demo.waitForLine(RELAY_URL))[1] as string
      caPath = (await demo.waitForLine(CA_PATH))[1] as string
      await demo.waitForLine(RUNNING)
    })

    after(() => kill(demo))

    it('prints a wss:// URL through which a Nostr client publishes and subscribes', async () => {
      const url = new URL(relayUrl)
      expect(url.protocol).to.equal('wss:')
      expect(url.hostname).to.equal('localhost')
      expect(url.searchParams.get('token')).to.be.a('string').and.not.equal('')
      await publishAndSubscribe(relayUrl, { ca: readFileSync(caPath, 'utf8') })
    })

    it('exits 0 on SIGINT, leaving no Caddy or other child process behind', async () => {
      const running = descendants(demo.child.pid as number)
      expect(running.map((p) => p.comm)).to.include('caddy')
      await interruptAndCheck(demo)
      // Caddy's data (and the CA) lived in the demo's temporary directory, now removed.
      expect(existsSync(caPath)).to.equal(false)
    })
  })

  describe('without caddy (DEMO_CADDY_BIN=/nonexistent)', () => {
    let demo: DemoProcess
    let relayUrl: string

    before(async () => {
      demo = spawnDemo({ DEMO_CADDY_BIN: '/nonexistent/caddy' })
      relayUrl = (await demo.waitForLine(RELAY_URL))[1] as string
      await demo.waitForLine(RUNNING)
    })

    after(() => kill(demo))

    it('says how to install Caddy and serves a plain ws:// URL straight from the proxy', async () => {
      expect(demo.lines().join('\n')).to.contain('apt-get install caddy')
      expect(demo.lines().filter((line) => CA_PATH.test(line))).to.deep.equal([])
      const url = new URL(relayUrl)
      expect(url.protocol).to.equal('ws:')
      expect(url.hostname).to.equal('127.0.0.1')
      await publishAndSubscribe(relayUrl, {})
    })

    it('exits 0 on SIGINT', async () => {
      await interruptAndCheck(demo)
    })
  })
})
