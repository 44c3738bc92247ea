import { readFileSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { IncomingHttpHeaders, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'
import { WebSocket, WebSocketServer } from 'ws'
import { CADDYFILE, LOOPBACK, loopbackLookup, runCaddy, startCaddy } from '../helpers/caddy.js'
import type { CaddyCommandResult, TestCaddy } from '../helpers/caddy.js'
import type { LogLine } from '../helpers/log-sink.js'

// Compiled to dist/tests/integration/, so the repository root is three levels up.
const GOLDEN = fileURLToPath(
  new URL('../../../tests/golden/caddyfile.adapted.json', import.meta.url),
)

/** Fixed placeholder sets the golden file is adapted with. */
const ENVS = {
  // Bare-metal production: only the required variables, every default left alone.
  production: {
    GATEWAY_DOMAIN: 'gateway.example.com',
    GATEWAY_ACME_EMAIL: 'ops@example.com',
  },
  // compose.yaml with a second proxy.
  scaleOut: {
    GATEWAY_DOMAIN: 'gateway.example.com',
    GATEWAY_ACME_EMAIL: 'ops@example.com',
    GATEWAY_PROXY_UPSTREAMS: 'proxy:8080 proxy-2:8080',
    GATEWAY_REGISTRAR_UPSTREAMS: 'registrar:8081',
  },
  // What the tests and the demo run.
  loopback: {
    GATEWAY_DOMAIN: 'localhost',
    GATEWAY_ACME_EMAIL: 'tests@example.invalid',
    CADDY_EDGE: 'loopback',
    CADDY_ADMIN: 'off',
    CADDY_HTTP_PORT: '18080',
    CADDY_HTTPS_PORT: '18443',
    GATEWAY_PROXY_UPSTREAMS: '127.0.0.1:28080',
    GATEWAY_REGISTRAR_UPSTREAMS: '127.0.0.1:28081',
  },
} satisfies Record<string, Record<string, string>>

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type JsonObject = { [key: string]: Json }

async function adapt(env: Record<string, string>): Promise<JsonObject> {
  const result = await runCaddy(['adapt', '--adapter', 'caddyfile', '--config', CADDYFILE], {
    env,
  })
  expect(result.code, `caddy adapt failed:\n${result.stderr}`).to.equal(0)
  // Warnings (unformatted file, deprecated syntax, ...) count as failures too.
  const warnings = jsonLines(result.stderr).filter((l) => l.level === 'warn' || l.level === 'error')
  expect(warnings, 'caddy adapt warnings').to.deep.equal([])
  return JSON.parse(result.stdout) as JsonObject
}

function jsonLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine
      } catch {
        return { raw: l }
      }
    })
}

/** Keys sorted at every level, so the golden file does not depend on key order. */
function normalise(value: Json): Json {
  if (Array.isArray(value)) return value.map(normalise)
  if (value === null || typeof value !== 'object') return value
  const out: JsonObject = {}
  for (const key of Object.keys(value).sort()) out[key] = normalise(value[key] ?? null)
  return out
}

/** Every object in `value` (depth first) for which `test` holds. */
function findAll(value: Json, test: (o: JsonObject) => boolean): JsonObject[] {
  const found: JsonObject[] = []
  const visit = (v: Json): void => {
    if (Array.isArray(v)) v.forEach(visit)
    else if (v !== null && typeof v === 'object') {
      if (test(v)) found.push(v)
      Object.values(v).forEach(visit)
    }
  }
  visit(value)
  return found
}

function at(value: Json | undefined, ...path: (string | number)[]): Json | undefined {
  let node: Json | undefined = value
  for (const key of path) {
    if (node === null || typeof node !== 'object' || node === undefined) return undefined
    node = (node as Record<string | number, Json>)[key]
  }
  return node
}

/** The two reverse_proxy handlers: the registrar's (/api/*) first, then the proxy's. */
function reverseProxies(config: JsonObject): { registrar: JsonObject; proxy: JsonObject } {
  const handlers = findAll(config, (o) => o.handler === 'reverse_proxy')
  expect(handlers).to.have.length(2)
  const [a, b] = handlers as [JsonObject, JsonObject]
  const isProxy = (h: JsonObject) => at(h, 'flush_interval') === -1
  return isProxy(a) ? { registrar: b, proxy: a } : { registrar: a, proxy: b }
}

function dials(handler: JsonObject): string[] {
  return ((handler.upstreams ?? []) as JsonObject[]).map((u) => String(u.dial))
}

describe('Caddyfile', function () {
  this.timeout(30_000)

  describe('static checks', () => {
    it('passes caddy validate with production and loopback placeholders', async () => {
      for (const [name, env] of Object.entries(ENVS)) {
        const result: CaddyCommandResult = await runCaddy(
          ['validate', '--adapter', 'caddyfile', '--config', CADDYFILE],
          { env },
        )
        expect(result.code, `${name}: ${result.stderr}`).to.equal(0)
        expect(result.stdout + result.stderr, name).to.contain('Valid configuration')
      }
    })

    it('is formatted the way caddy fmt writes it', async () => {
      const result = await runCaddy(['fmt', CADDYFILE])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.equal(readFileSync(CADDYFILE, 'utf8'))
    })

    it('adapts to the golden JSON (regenerate: UPDATE_GOLDEN=1)', async () => {
      // The adapted JSON differs between Caddy releases: record which one made the file.
      const version = (await runCaddy(['version'])).stdout.trim().split(/\s/)[0] ?? ''
      const actual: JsonObject = { caddyVersion: version }
      for (const [name, env] of Object.entries(ENVS)) actual[name] = normalise(await adapt(env))
      if (process.env.UPDATE_GOLDEN === '1') {
        const prettier = await import('prettier')
        const options = (await prettier.resolveConfig(GOLDEN)) ?? {}
        const text = await prettier.format(JSON.stringify(actual), { ...options, parser: 'json' })
        writeFileSync(GOLDEN, text)
      }
      const golden = normalise(JSON.parse(readFileSync(GOLDEN, 'utf8')) as Json) as JsonObject
      expect(version, 'caddy version (review the diff, then UPDATE_GOLDEN=1)').to.equal(
        golden.caddyVersion,
      )
      expect(normalise(actual)).to.deep.equal(golden)
    })

    it('in production: ACME with the e-mail, all interfaces, admin on localhost', async () => {
      const config = await adapt(ENVS.production)
      expect(at(config, 'admin', 'listen')).to.equal('localhost:2019')
      expect(at(config, 'apps', 'http', 'servers', 'srv0', 'listen')).to.deep.equal([':443'])
      const issuers = at(config, 'apps', 'tls', 'automation', 'policies', 0, 'issuers') as Json[]
      expect(issuers).to.deep.include({ module: 'acme', email: 'ops@example.com' })
      const policy = at(config, 'apps', 'tls', 'automation', 'policies', 0) as JsonObject
      expect(policy.subjects).to.deep.equal(['gateway.example.com'])
    })

    it('in loopback mode: 127.0.0.1 listeners only, internal CA, admin off', async () => {
      const config = await adapt(ENVS.loopback)
      expect(at(config, 'admin', 'disabled')).to.equal(true)
      const listens = Object.values(at(config, 'apps', 'http', 'servers') as JsonObject).flatMap(
        (server) => at(server, 'listen') as string[],
      )
      expect(listens).to.deep.equal(['127.0.0.1:18443'])
      expect(at(config, 'apps', 'http', 'http_port')).to.equal(18080)
      const policies = at(config, 'apps', 'tls', 'automation', 'policies') as JsonObject[]
      for (const policy of policies) {
        expect(policy.issuers).to.deep.equal([{ module: 'internal' }])
      }
      expect(
        at(config, 'apps', 'pki', 'certificate_authorities', 'local', 'install_trust'),
      ).to.equal(false)
    })

    it('balances long-lived proxy sessions and health-checks /ready on both upstreams', async () => {
      const { proxy, registrar } = reverseProxies(await adapt(ENVS.scaleOut))
      expect(dials(proxy)).to.deep.equal(['proxy:8080', 'proxy-2:8080'])
      expect(dials(registrar)).to.deep.equal(['registrar:8081'])
      expect(at(proxy, 'load_balancing', 'selection_policy', 'policy')).to.equal('least_conn')
      expect(at(proxy, 'load_balancing', 'try_duration')).to.be.greaterThan(0)
      for (const handler of [proxy, registrar]) {
        expect(at(handler, 'health_checks', 'active', 'uri')).to.equal('/ready')
      }
      // No read/write deadline on upstream connections: they would cut idle WebSockets.
      expect(at(proxy, 'transport', 'read_timeout')).to.equal(undefined)
      expect(at(proxy, 'transport', 'write_timeout')).to.equal(undefined)
    })

    it('redacts the token and auth headers in the access log and in its own log', async () => {
      const config = await adapt(ENVS.production)
      const logs = at(config, 'logging', 'logs') as JsonObject
      expect(Object.keys(logs).sort()).to.deep.equal(['default', 'log0'])
      for (const [name, log] of Object.entries(logs)) {
        const fields = at(log, 'encoder', 'fields') as JsonObject
        expect(at(log, 'encoder', 'format'), name).to.equal('filter')
        expect(at(log, 'encoder', 'wrap', 'format'), name).to.equal('json')
        expect(fields['request>uri'], name).to.deep.equal({
          filter: 'query',
          actions: [{ type: 'replace', parameter: 'token', value: 'REDACTED' }],
        })
        for (const header of ['Authorization', 'X-Auth-Token', 'X-Signature', 'Cookie']) {
          expect(fields[`request>headers>${header}`], `${name} ${header}`).to.deep.equal({
            filter: 'delete',
          })
        }
      }
    })

    it('sends HSTS for the domain only, includeSubDomains when opted in', async () => {
      const hsts = (config: JsonObject): Json | undefined => {
        const text = JSON.stringify(config)
        return /"Strict-Transport-Security":\[("[^"]*")\]/.exec(text)?.[1]
      }
      expect(hsts(await adapt(ENVS.production))).to.equal('"max-age=31536000"')
      const optedIn = { ...ENVS.production, GATEWAY_HSTS_INCLUDE_SUBDOMAINS: 'true' }
      expect(hsts(await adapt(optedIn))).to.equal('"max-age=31536000; includeSubDomains"')
    })

    it('fails to adapt without GATEWAY_DOMAIN or GATEWAY_ACME_EMAIL', async () => {
      for (const missing of ['GATEWAY_DOMAIN', 'GATEWAY_ACME_EMAIL']) {
        const env: Record<string, string> = { ...ENVS.production }
        delete env[missing]
        const result = await runCaddy(['adapt', '--adapter', 'caddyfile', '--config', CADDYFILE], {
          env,
        })
        expect(result.code, missing).not.to.equal(0)
      }
    })

    it('reports a missing caddy binary clearly', async () => {
      const error = await runCaddy(['version'], { env: { PATH: '/nonexistent' } }).then(
        () => null,
        (err: unknown) => err,
      )
      expect(error).to.be.instanceOf(Error)
      expect((error as Error).message).to.equal('caddy not found: apt-get install caddy')
    })
  })

  describe('live, on loopback with its internal CA', () => {
    let proxy: Stub
    let registrar: Stub
    let caddy: TestCaddy

    before(async () => {
      proxy = await startStub('proxy')
      registrar = await startStub('registrar')
      caddy = await startCaddy({
        env: {
          GATEWAY_PROXY_UPSTREAMS: `${LOOPBACK}:${proxy.port}`,
          GATEWAY_REGISTRAR_UPSTREAMS: `${LOOPBACK}:${registrar.port}`,
        },
      })
    })

    after(async () => {
      await caddy?.stop()
      await proxy?.close()
      await registrar?.close()
    })

    it('sends /api/* to the registrar and everything else to the proxy', async () => {
      const api = await caddy.request('/api/relays?x=1', { method: 'POST', body: '{}' })
      expect(api.status).to.equal(200)
      expect(JSON.parse(api.body)).to.include({
        name: 'registrar',
        method: 'POST',
        url: '/api/relays?x=1',
      })

      // A client's own X-Forwarded-For is not believed: Caddy sends the socket address.
      const other = await caddy.request('/anything/else?y=2', {
        headers: { 'x-forwarded-for': '203.0.113.9' },
      })
      expect(other.status).to.equal(200)
      const seen = JSON.parse(other.body) as StubEcho
      expect(seen).to.include({ name: 'proxy', method: 'GET', url: '/anything/else?y=2' })
      // What the proxy relies on behind Caddy: the public Host and the client's address.
      expect(seen.headers.host).to.equal(`localhost:${caddy.httpsPort}`)
      expect(seen.headers['x-forwarded-proto']).to.equal('https')
      expect(seen.headers['x-forwarded-for']).to.equal(LOOPBACK)

      const root = await caddy.request('/')
      expect(JSON.parse(root.body)).to.include({ name: 'proxy', url: '/' })
    })

    it('refuses /metrics at the edge, however it is spelt', async () => {
      const paths = [
        '/metrics',
        '/metrics?format=openmetrics',
        '/metrics/',
        '/METRICS',
        '//metrics',
        '/%6detrics',
        '/x/../metrics',
        '/metricsz',
      ]
      for (const path of paths) {
        const res = await caddy.request(path)
        expect(res.status, path).to.equal(404)
        expect(res.body, path).to.equal('')
      }
      const leaked = [...proxy.requests, ...registrar.requests].filter((r) =>
        /metrics/i.test(decodeURIComponent(r.url)),
      )
      expect(leaked).to.deep.equal([])
    })

    it('sets the security headers and hides the server', async () => {
      const res = await caddy.request('/relay-info', {
        headers: { accept: 'application/nostr+json' },
      })
      expect(res.status).to.equal(200)
      expect(res.headers['strict-transport-security']).to.match(/max-age=\d{7,}/)
      expect(res.headers['x-content-type-options']).to.equal('nosniff')
      expect(res.headers['x-frame-options']).to.equal('DENY')
      expect(res.headers['referrer-policy']).to.equal('no-referrer')
      expect(res.headers['content-security-policy']).to.equal(undefined)
      expect(res.headers.server).to.equal(undefined)
    })

    it('forwards the token but keeps it and the auth headers out of the access log', async () => {
      const res = await caddy.request('/tokened?token=SECRET123&relay=abc', {
        headers: {
          authorization: 'Bearer SECRET456',
          'x-auth-token': 'SECRET457',
          'x-signature': 'SECRET458',
          cookie: 'session=SECRET459',
        },
      })
      expect(res.status).to.equal(200)
      const seen = JSON.parse(res.body) as StubEcho
      expect(seen.url).to.equal('/tokened?token=SECRET123&relay=abc')
      expect(seen.headers.authorization).to.equal('Bearer SECRET456')

      const line = await caddy.accessLog.waitFor((l) => uri(l).startsWith('/tokened'), 5_000)
      expect(uri(line)).to.equal('/tokened?relay=abc&token=REDACTED')
      expect(line.status).to.equal(200)
      const headers = (line.request as { headers: Record<string, unknown> }).headers
      expect(Object.keys(headers).map((h) => h.toLowerCase())).not.to.include.members([
        'authorization',
      ])
      expect(caddy.logText()).not.to.contain('SECRET')
    })

    it('passes a WebSocket upgrade through, token intact upstream and redacted in the log', async () => {
      const path = `/${'ab'.repeat(32)}?token=SECRETWS1`
      const ws = new WebSocket(`${caddy.origin.replace('https:', 'wss:')}${path}`, {
        ca: caddy.ca,
        lookup: loopbackLookup,
        headers: { authorization: 'Bearer SECRETWS2' },
      })
      const closed = new Promise((resolve) => ws.once('close', resolve))
      try {
        await once(ws, 'open')
        const reply = once(ws, 'message')
        ws.send('["REQ","sub",{}]')
        const [data] = (await reply) as [Buffer]
        expect(data.toString()).to.equal('echo:["REQ","sub",{}]')
      } finally {
        ws.on('error', () => {})
        ws.close(1000)
        await closed
      }
      expect(proxy.upgrades).to.have.length(1)
      expect(proxy.upgrades[0]?.url).to.equal(path)
      expect(proxy.upgrades[0]?.headers.authorization).to.equal('Bearer SECRETWS2')
      expect(proxy.upgrades[0]?.headers['x-forwarded-for']).to.equal(LOOPBACK)

      // The access log line of a WebSocket is written when the connection ends.
      const line = await caddy.accessLog.waitFor((l) => uri(l).startsWith(path.slice(0, 20)), 5_000)
      // Caddy 2.6 logs a hijacked connection with status 0; later versions log 101.
      expect(line.status).to.be.oneOf([0, 101])
      expect((line.resp_headers as Record<string, unknown>).Upgrade).to.deep.equal(['websocket'])
      expect(uri(line)).to.equal(`${path.split('?')[0]}?token=REDACTED`)
      expect(caddy.logText()).not.to.contain('SECRET')
    })

    // Last: the failed upstream request must not influence the others.
    it('keeps the token out of its error log when an upstream fails', async () => {
      const res = await caddy.request('/boom?token=SECRET789', {
        method: 'POST',
        headers: { authorization: 'Bearer SECRET790' },
      })
      expect(res.status).to.equal(502)
      const error = await caddy.serverLog.waitFor(
        (l) => String(l.logger).startsWith('http.log.error') && uri(l).startsWith('/boom'),
        5_000,
      )
      expect(uri(error)).to.equal('/boom?token=REDACTED')
      await caddy.accessLog.waitFor((l) => uri(l).startsWith('/boom'), 5_000)
      expect(caddy.logText()).not.to.contain('SECRET')
    })
  })
})

function uri(line: LogLine): string {
  const request = line.request as { uri?: unknown } | undefined
  return typeof request?.uri === 'string' ? request.uri : ''
}

interface StubEcho {
  name: string
  method: string
  url: string
  headers: IncomingHttpHeaders
}

interface Stub {
  port: number
  /** Every HTTP request but the health checks of /ready. */
  requests: StubEcho[]
  upgrades: StubEcho[]
  close(): Promise<void>
}

/**
 * A stand-in for the proxy or registrar on 127.0.0.1: `/ready` answers 200, `/boom` drops the
 * connection, anything else echoes the request as JSON; WebSocket messages come back as
 * `echo:<text>`.
 */
async function startStub(name: string): Promise<Stub> {
  const requests: StubEcho[] = []
  const upgrades: StubEcho[] = []
  const server: Server = createServer((req, res) => {
    const url = req.url ?? ''
    if (url === '/ready') {
      res.end('ready')
      return
    }
    const echo: StubEcho = { name, method: req.method ?? '', url, headers: req.headers }
    requests.push(echo)
    if (url.startsWith('/boom')) {
      req.socket.destroy()
      return
    }
    req.resume()
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(echo))
  })
  const wss = new WebSocketServer({ server })
  wss.on('connection', (ws, req) => {
    upgrades.push({ name, method: req.method ?? '', url: req.url ?? '', headers: req.headers })
    ws.on('message', (data: Buffer) => ws.send(`echo:${data.toString()}`))
  })
  server.listen(0, LOOPBACK)
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    port,
    requests,
    upgrades,
    async close() {
      for (const client of wss.clients) client.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
