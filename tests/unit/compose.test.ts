import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isIPv4 } from 'node:net'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'
import { Registry } from 'prom-client'
import { parse } from 'yaml'
import { ErrorCode, GatewayError } from '../../shared/errors.js'
import { loadConfig } from '../../shared/config/load-config.js'
import type { ConfigProblem } from '../../shared/config/load-config.js'
import { EDGE_VARIABLES as GATEWAY_EDGE_VARIABLES } from '../../shared/config/edge-variables.js'
import { configEntries, gatewayConfigSchema } from '../../shared/config/schema.js'
import { PoolMetrics } from '../../shared/swarm/pool-metrics.js'

// Compiled to dist/tests/unit/, so the repository root is three levels up.
const repoPath = (file: string): string =>
  fileURLToPath(new URL(`../../../${file}`, import.meta.url))
const readRepo = (file: string): string => readFileSync(repoPath(file), 'utf8')

/**
 * Variables of the stack that are not gateway settings (not in the config schema): read by
 * Caddy (through the Caddyfile) or by compose.yaml's interpolation. Each must be documented in
 * .env.example.
 */
const EDGE_VARIABLES = new Set([
  ...GATEWAY_EDGE_VARIABLES,
  'CADDY_SUBNET',
  'CADDY_IPV4',
  'GRAFANA_ADMIN_PASSWORD',
])

/** Caddyfile placeholders only tests and the demo set; production keeps their defaults. */
const CADDY_TEST_VARIABLES = new Set([
  'CADDY_EDGE',
  'CADDY_ADMIN',
  'CADDY_HTTP_PORT',
  'CADDY_HTTPS_PORT',
])

/** The gateway settings the stack cannot run without. */
const REQUIRED = [
  'GATEWAY_REGISTRATION_SECRET',
  'GATEWAY_REGISTRATION_REDIS',
  'GATEWAY_PROXY_HOST',
  'GATEWAY_REGISTRAR_HOST',
]

type Env = Record<string, string>
interface Healthcheck {
  test: string[]
  interval?: string
}
interface Service {
  image?: string
  build?: string | { context: string }
  command?: string[]
  /** A null value passes the variable through from .env (unset there: unset here). */
  environment?: Record<string, string | number | boolean | null>
  env_file?: string | string[]
  ports?: string[]
  volumes?: string[]
  restart?: string
  healthcheck?: Healthcheck
  depends_on?: Record<string, { condition: string }> | string[]
  profiles?: string[]
  networks?: string[] | Record<string, { ipv4_address?: string }>
}
interface Compose {
  services: Record<string, Service>
  volumes: Record<string, unknown>
  networks: Record<string, { ipam?: { config?: { subnet: string }[] } }>
}

const compose = parse(readRepo('compose.yaml'), { merge: true }) as Compose
const envExample = parseDotEnv(readRepo('.env.example'))
const caddyfile = readRepo('Caddyfile')
const schemaEntries = configEntries(gatewayConfigSchema)
const schemaVariables = new Set(schemaEntries.map((e) => e.env).filter((e) => e !== undefined))
const schemaDefault = (env: string): unknown => schemaEntries.find((e) => e.env === env)?.default

function service(name: string): Service {
  const found = compose.services[name]
  if (found === undefined) throw new Error(`compose.yaml has no service ${name}`)
  return found
}

/** `KEY=value` lines of a .env file, plus the keys of commented-out `# KEY=value` examples. */
function parseDotEnv(text: string): { values: Env; documented: Set<string> } {
  const values: Env = {}
  const documented = new Set<string>()
  for (const line of text.split('\n')) {
    const set = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line)
    if (set) values[set[1] ?? ''] = set[2] ?? ''
    for (const [name] of line.matchAll(/\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b/g)) documented.add(name)
  }
  return { values, documented }
}

const INTERPOLATION = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g

/** Docker compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$. */
function interpolate(value: string, vars: Env): string {
  return value.replace(INTERPOLATION, (match, name?: string, op?: string, arg?: string) => {
    if (match === '$$' || name === undefined) return '$'
    const current = vars[name]
    const missing = current === undefined || (op?.startsWith(':') === true && current === '')
    if (op === ':-' || op === '-') return missing ? (arg ?? '') : (current ?? '')
    if (op === ':?' || op === '?') {
      if (missing) throw new Error(`required variable ${name} is missing: ${arg}`)
    }
    return current ?? ''
  })
}

function interpolatedNames(value: string): string[] {
  return [...value.matchAll(INTERPOLATION)].flatMap((m) => (m[1] === undefined ? [] : [m[1]]))
}

/** `environment` entries with a value (to interpolate); pass-through names are left out. */
function environment(svc: Service): Env {
  const out: Env = {}
  for (const [key, value] of Object.entries(svc.environment ?? {})) {
    if (value !== null) out[key] = String(value)
  }
  return out
}

/** Names of `environment` without a value: passed through from .env when set there. */
function passedThrough(svc: Service): string[] {
  return Object.entries(svc.environment ?? {}).flatMap(([key, value]) =>
    value === null ? [key] : [],
  )
}

/** What a container of `name` sees (.env = .env.example here): pass-through, then values. */
function containerEnv(name: string, dotEnv: Env = envExample.values): Env {
  const svc = service(name)
  expect(svc.env_file, `${name} env_file`).to.equal(undefined)
  const env: Env = {}
  for (const key of passedThrough(svc)) {
    const value = dotEnv[key]
    if (value !== undefined) env[key] = value
  }
  for (const [key, value] of Object.entries(environment(svc))) env[key] = interpolate(value, dotEnv)
  return env
}

function portOf(hostPort: string): number {
  return Number(hostPort.slice(hostPort.lastIndexOf(':') + 1))
}

/** `{$NAME}` / `{$NAME:default}` placeholders of the Caddyfile. */
function caddyPlaceholders(): Map<string, string | undefined> {
  const found = new Map<string, string | undefined>()
  for (const m of caddyfile.matchAll(/\{\$([A-Z0-9_]+)(?::([^}]*))?\}/g)) {
    const line = caddyfile.slice(caddyfile.lastIndexOf('\n', m.index) + 1, m.index)
    if (line.trimStart().startsWith('#')) continue // examples in comments
    found.set(m[1] ?? '', m[2])
  }
  return found
}

function runNode(script: string): Promise<number | null> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['-e', script], { timeout: 10_000 })
    child.on('exit', (code) => resolve(code))
  })
}

describe('compose.yaml', () => {
  const CORE = ['caddy', 'proxy', 'registrar', 'redis']

  it('parses and names the services, volumes and network', () => {
    expect(compose.services).to.include.keys(...CORE, 'prometheus', 'grafana')
    expect(compose.volumes).to.include.keys('caddy_data', 'caddy_config', 'redis_data')
    for (const name of Object.keys(compose.services)) {
      for (const volume of service(name).volumes ?? []) {
        const source = volume.split(':')[0] ?? ''
        if (source.startsWith('.')) {
          expect(existsSync(repoPath(source)), `${name} mounts ${source}`).to.equal(true)
        } else {
          expect(compose.volumes, `${name} volume ${source}`).to.have.property(source)
        }
      }
    }
  })

  it('runs Caddy from the official image with persistent data and the read-only Caddyfile', () => {
    const caddy = service('caddy')
    expect(caddy.image).to.match(/^caddy:2(\.|$)/)
    // Pinned to the release the Caddyfile's golden test (caddy adapt) and edge tests ran.
    const golden = JSON.parse(readRepo('tests/golden/caddyfile.adapted.json')) as {
      caddyVersion: string
    }
    expect(caddy.image).to.equal(`caddy:${golden.caddyVersion}`)
    expect(caddy.ports).to.have.members(['80:80', '443:443', '443:443/udp'])
    expect(caddy.volumes).to.include.members([
      './Caddyfile:/etc/caddy/Caddyfile:ro',
      'caddy_data:/data',
      'caddy_config:/config',
    ])
  })

  it('runs Redis from the official image with append-only persistence on a volume', () => {
    const redis = service('redis')
    expect(redis.image).to.match(/^redis:\d/)
    expect(redis.command?.join(' ')).to.contain('--appendonly yes')
    expect(redis.volumes).to.include('redis_data:/data')
    expect(redis.healthcheck?.test).to.deep.equal(['CMD', 'redis-cli', 'ping'])
  })

  it('builds one image for the proxy and the registrar and runs their compiled entry points', () => {
    const scripts = (JSON.parse(readRepo('package.json')) as { scripts: Env }).scripts
    const proxy = service('proxy')
    const registrar = service('registrar')
    for (const svc of [proxy, registrar]) {
      expect(svc.build).to.equal('.')
      expect(svc.image).to.equal(proxy.image)
    }
    // The same commands as `npm run proxy` / `npm run registrar`.
    expect(proxy.command?.join(' ')).to.equal(scripts.proxy)
    expect(registrar.command?.join(' ')).to.equal(scripts.registrar)
  })

  it('restarts the core services, checks their health and starts them in order', () => {
    for (const name of CORE) {
      const svc = service(name)
      expect(svc.restart, name).to.equal('unless-stopped')
      expect(svc.healthcheck?.test, name).to.be.an('array')
    }
    const healthy = (svc: Service) =>
      Object.entries(svc.depends_on ?? {}).map(([dep, v]) => [
        dep,
        (v as { condition: string }).condition,
      ])
    expect(healthy(service('proxy'))).to.deep.equal([['redis', 'service_healthy']])
    expect(healthy(service('registrar'))).to.deep.equal([['redis', 'service_healthy']])
    expect(healthy(service('caddy'))).to.have.deep.members([
      ['proxy', 'service_healthy'],
      ['registrar', 'service_healthy'],
    ])
  })

  it("probes /ready on each process's own port with Node (the slim image has no curl)", () => {
    for (const [name, portVariable] of [
      ['proxy', 'GATEWAY_PROXY_PORT'],
      ['registrar', 'GATEWAY_REGISTRAR_PORT'],
    ] as const) {
      const test = service(name).healthcheck?.test ?? []
      expect(test.slice(0, 3), name).to.deep.equal(['CMD', 'node', '-e'])
      const port = containerEnv(name)[portVariable]
      expect(port, name).to.equal(String(schemaDefault(portVariable)))
      expect(test[3], name).to.contain(`fetch('http://127.0.0.1:${port}/ready')`)
    }
  })

  it('health probe exits 0 only while /ready answers 2xx', async () => {
    const probe = service('proxy').healthcheck?.test[3] ?? ''
    let status = 200
    const server = createServer((req, res) => {
      res.statusCode = req.url === '/ready' ? status : 404
      res.end()
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as AddressInfo
    const script = probe.replace('127.0.0.1:8080', `127.0.0.1:${port}`)
    expect(script).not.to.equal(probe)
    try {
      expect(await runNode(script), 'ready').to.equal(0)
      status = 503
      expect(await runNode(script), 'not ready').to.equal(1)
    } finally {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
    expect(await runNode(script), 'refused').to.equal(1)
  })

  it('sets only known variables: gateway settings from the schema or documented edge ones', () => {
    const names = new Set<string>(Object.keys(envExample.values))
    for (const svc of Object.values(compose.services)) {
      for (const [key, value] of Object.entries(environment(svc))) {
        names.add(key)
        interpolatedNames(value).forEach((n) => names.add(n))
      }
      for (const port of svc.ports ?? []) interpolatedNames(port).forEach((n) => names.add(n))
    }
    for (const net of Object.values(service('caddy').networks ?? {})) {
      interpolatedNames(String((net as { ipv4_address?: string }).ipv4_address)).forEach((n) =>
        names.add(n),
      )
    }
    const unknown = [...names].filter(
      (n) => !schemaVariables.has(n) && !EDGE_VARIABLES.has(n) && !n.startsWith('GF_'),
    )
    expect(unknown, 'not in the config schema nor a documented edge variable').to.deep.equal([])
    for (const name of EDGE_VARIABLES) {
      expect(envExample.documented.has(name), `${name} documented in .env.example`).to.equal(true)
    }
    // Every Caddyfile placeholder is an edge variable or a test-only one with a default.
    for (const [name, fallback] of caddyPlaceholders()) {
      if (CADDY_TEST_VARIABLES.has(name))
        expect(fallback, `${name} default`).not.to.equal(undefined)
      else expect(EDGE_VARIABLES.has(name), `Caddyfile {$${name}}`).to.equal(true)
    }
  })

  it('gives the proxy and registrar every setting they need, listening inside the network', () => {
    for (const name of ['proxy', 'registrar']) {
      const env = containerEnv(name)
      for (const variable of REQUIRED.filter((v) => !v.endsWith('_HOST'))) {
        expect(env[variable], `${name} ${variable}`).to.be.a('string').and.not.equal('')
      }
      expect(env.GATEWAY_REGISTRATION_REDIS, name).to.equal('redis://redis:6379')
    }
    expect(containerEnv('proxy').GATEWAY_PROXY_HOST).to.equal('0.0.0.0')
    expect(containerEnv('registrar').GATEWAY_REGISTRAR_HOST).to.equal('0.0.0.0')
    const everywhere = { ...containerEnv('proxy'), ...containerEnv('registrar') }
    for (const variable of REQUIRED) expect(everywhere, variable).to.have.property(variable)
  })

  it('refuses the placeholder secret and accepts the rest of .env.example as it is', () => {
    for (const name of ['proxy', 'registrar']) {
      let problems: ConfigProblem[] = []
      try {
        loadConfig({ env: containerEnv(name) })
        expect.fail(`${name}: the placeholder secret was accepted`)
      } catch (err) {
        if (!(err instanceof GatewayError)) throw err
        expect(err.code).to.equal(ErrorCode.CONFIG_INVALID)
        problems = (err.details?.problems ?? []) as ConfigProblem[]
      }
      expect(
        problems.map((p) => [p.variable, p.code]),
        name,
      ).to.deep.equal([['GATEWAY_REGISTRATION_SECRET', ErrorCode.SECRET_TOO_SHORT]])
    }
    const secret = 'a'.repeat(64)
    const proxy = loadConfig({
      env: { ...containerEnv('proxy'), GATEWAY_REGISTRATION_SECRET: secret },
    })
    expect(proxy.proxy.host).to.equal('0.0.0.0')
    expect(proxy.proxy.port).to.equal(schemaDefault('GATEWAY_PROXY_PORT'))
    expect(proxy.publicUrl).to.equal(`https://${envExample.values.GATEWAY_DOMAIN}`)
    const registrar = loadConfig({
      env: { ...containerEnv('registrar'), GATEWAY_REGISTRATION_SECRET: secret },
    })
    expect(registrar.registrar.host).to.equal('0.0.0.0')
    expect(registrar.registrar.port).to.equal(schemaDefault('GATEWAY_REGISTRAR_PORT'))
  })

  it('will not start without the domain and ACME e-mail', () => {
    const rest: Env = { ...envExample.values }
    delete rest.GATEWAY_DOMAIN
    delete rest.GATEWAY_ACME_EMAIL
    expect(() => containerEnv('caddy', { ...rest, GATEWAY_ACME_EMAIL: 'x@example.com' })).to.throw(
      /GATEWAY_DOMAIN/,
    )
    expect(() => containerEnv('caddy', { ...rest, GATEWAY_DOMAIN: 'example.com' })).to.throw(
      /GATEWAY_ACME_EMAIL/,
    )
  })

  it('passes every gateway setting from .env to the processes, and nothing that is not theirs', () => {
    // Compose fixes each process's own listen address; neither reads the other's.
    const LISTEN = [
      'GATEWAY_PROXY_HOST',
      'GATEWAY_PROXY_PORT',
      'GATEWAY_REGISTRAR_HOST',
      'GATEWAY_REGISTRAR_PORT',
    ]
    for (const name of ['proxy', 'registrar']) {
      // Every other setting this service's compose entry does not give a value itself.
      const setByCompose = new Set([...Object.keys(environment(service(name))), ...LISTEN])
      const expected = [...schemaVariables].filter((v) => !setByCompose.has(v)).sort()
      expect(passedThrough(service(name)).sort(), `${name}: x-gateway-settings`).to.deep.equal(
        expected,
      )
      const env = containerEnv(name, {
        ...envExample.values,
        GRAFANA_ADMIN_PASSWORD: 'grafana-secret',
        GATEWAY_HSTS_INCLUDE_SUBDOMAINS: 'true',
      })
      const foreign = Object.keys(env).filter((k) => !schemaVariables.has(k))
      expect(foreign, name).to.deep.equal([])
    }
    // An operator's .env value reaches the process; one left unset keeps the schema default.
    const env = containerEnv('proxy', { ...envExample.values, GATEWAY_POOL_DOWN_AFTER: '7' })
    expect(env.GATEWAY_POOL_DOWN_AFTER).to.equal('7')
    expect(containerEnv('proxy')).not.to.have.property('GATEWAY_POOL_DOWN_AFTER')
  })

  it('checks Caddy through its admin API on the address the Caddyfile gives it', () => {
    const admin = /^\s*admin \{\$CADDY_ADMIN:([^}]+)\}/m.exec(caddyfile)?.[1]
    expect(admin).to.equal('localhost:2019')
    const test = service('caddy').healthcheck?.test ?? []
    expect(test.slice(0, 2)).to.deep.equal(['CMD', 'wget'])
    expect(test.at(-1)).to.equal(`http://${admin}/config/`)
  })

  it('hands Caddy the edge variables only, never the shared secret', () => {
    const caddy = service('caddy')
    expect(caddy.env_file).to.equal(undefined)
    const env = containerEnv('caddy')
    expect(Object.keys(env).every((k) => EDGE_VARIABLES.has(k))).to.equal(true)
    expect(env).not.to.have.property('GATEWAY_REGISTRATION_SECRET')
    // Every placeholder the Caddyfile requires (no default) is set.
    for (const [name, fallback] of caddyPlaceholders()) {
      if (fallback === undefined) expect(env[name], name).to.be.a('string').and.not.equal('')
    }
  })

  it("points Caddy's upstreams at the processes' ports, which are the schema defaults", () => {
    const placeholders = caddyPlaceholders()
    const caddyEnv = containerEnv('caddy')
    for (const [upstreams, svc, portVariable] of [
      ['GATEWAY_PROXY_UPSTREAMS', 'proxy', 'GATEWAY_PROXY_PORT'],
      ['GATEWAY_REGISTRAR_UPSTREAMS', 'registrar', 'GATEWAY_REGISTRAR_PORT'],
    ] as const) {
      const port = schemaDefault(portVariable)
      // Bare metal: the Caddyfile's own default.
      expect(placeholders.get(upstreams), upstreams).to.equal(`127.0.0.1:${port}`)
      // Compose: the service name and the port compose gives the process.
      expect(caddyEnv[upstreams]).to.equal(`${svc}:${port}`)
      expect(containerEnv(svc)[portVariable]).to.equal(String(port))
    }
  })

  it("trusts X-Forwarded-For from Caddy's fixed address only", () => {
    const subnet = interpolate(
      compose.networks.gateway?.ipam?.config?.[0]?.subnet ?? '',
      envExample.values,
    )
    const networks = service('caddy').networks as Record<string, { ipv4_address?: string }>
    const caddyIp = interpolate(networks.gateway?.ipv4_address ?? '', envExample.values)
    expect(isIPv4(caddyIp), caddyIp).to.equal(true)
    const [base, bits] = subnet.split('/')
    const toInt = (ip: string) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0)
    const mask = 2 ** 32 - 2 ** (32 - Number(bits))
    expect(toInt(caddyIp) & mask, 'Caddy inside the subnet').to.equal(toInt(base ?? '') & mask)
    for (const name of ['proxy', 'registrar']) {
      expect(containerEnv(name).GATEWAY_TRUSTED_PROXIES, name).to.equal(caddyIp)
      expect(service(name).networks, name).to.deep.equal(['gateway'])
    }
    // Outside compose nothing is trusted, so compose's value is the only way in.
    expect(loadConfig({ env: {} }).trustedProxies).to.deep.equal([])
    for (const name of ['proxy', 'registrar']) {
      const env = { ...containerEnv(name), GATEWAY_REGISTRATION_SECRET: 'a'.repeat(64) }
      expect(loadConfig({ env }).trustedProxies, name).to.deep.equal([caddyIp])
    }
  })

  it("publishes ports for Caddy only (Grafana on loopback), plus the proxy's DHT UDP port", () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      if (name === 'caddy') continue
      const ports = svc.ports ?? []
      if (name === 'proxy') {
        // The published UDP port is the one the proxy's DHT node binds.
        const port = containerEnv('proxy').GATEWAY_HYPERSWARM_PORT
        expect(port).to.match(/^[1-9]\d*$/)
        expect(ports).to.deep.equal([`${port}:${port}/udp`])
      } else if (name === 'grafana') {
        for (const port of ports) expect(port, name).to.match(/^127\.0\.0\.1:/)
      } else {
        expect(ports, name).to.deep.equal([])
      }
    }
  })
})

describe('observability profile', () => {
  /** Metrics the gateway exports or will export (the proxy's and registrar's are announced). */
  const KNOWN_METRICS = new Set([
    'hypertuna_gateway_pool_peers',
    'hypertuna_gateway_pool_requests_total',
    'hypertuna_gateway_pool_request_seconds_bucket',
    'hypertuna_gateway_pool_health_check_seconds_bucket',
    'hypertuna_gateway_pool_dials_total',
    'hypertuna_gateway_proxy_sessions',
    'hypertuna_gateway_proxy_messages_total',
    'hypertuna_gateway_proxy_forward_seconds_bucket',
    'hypertuna_gateway_proxy_token_rejections_total',
    'hypertuna_gateway_proxy_limit_hits_total',
    'hypertuna_gateway_proxy_failovers_total',
    'hypertuna_gateway_proxy_deliveries_total',
    'hypertuna_gateway_registrar_registrations_total',
  ])

  interface Panel {
    type: string
    title: string
    targets?: { expr: string }[]
  }
  const dashboard = JSON.parse(readRepo('ops/grafana/dashboards/hypertuna-gateway.json')) as {
    uid: string
    panels: Panel[]
  }
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr))
  const used = new Set(
    exprs.flatMap((e) => [...e.matchAll(/hypertuna_gateway_[a-z0-9_]+/g)].map((m) => m[0])),
  )

  it('runs Prometheus and Grafana only with --profile observability', () => {
    for (const name of ['prometheus', 'grafana']) {
      expect(service(name).profiles, name).to.deep.equal(['observability'])
    }
    for (const name of ['caddy', 'proxy', 'registrar', 'redis']) {
      expect(service(name).profiles, name).to.equal(undefined)
    }
  })

  it("scrapes each process's /metrics inside the network", () => {
    const mount = service('prometheus').volumes?.find((v) =>
      v.endsWith(':/etc/prometheus/prometheus.yml:ro'),
    )
    expect(mount).to.equal('./ops/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro')
    const config = parse(readRepo('ops/prometheus/prometheus.yml')) as {
      scrape_configs: {
        job_name: string
        metrics_path?: string
        static_configs: { targets: string[] }[]
      }[]
    }
    const jobs = new Map(config.scrape_configs.map((j) => [j.job_name, j]))
    for (const [name, portVariable] of [
      ['proxy', 'GATEWAY_PROXY_PORT'],
      ['registrar', 'GATEWAY_REGISTRAR_PORT'],
    ] as const) {
      const job = jobs.get(name)
      expect(job?.metrics_path ?? '/metrics', name).to.equal('/metrics')
      const targets = job?.static_configs.flatMap((s) => s.targets) ?? []
      expect(targets, name).to.deep.equal([`${name}:${containerEnv(name)[portVariable]}`])
      expect(portOf(targets[0] ?? '')).to.equal(schemaDefault(portVariable))
    }
  })

  it('provisions the Prometheus data source and the dashboard into Grafana', () => {
    const volumes = service('grafana').volumes ?? []
    expect(volumes).to.include('./ops/grafana/provisioning:/etc/grafana/provisioning:ro')
    const datasources = parse(readRepo('ops/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: { type: string; url: string; uid: string }[]
    }
    expect(datasources.datasources[0]).to.include({
      type: 'prometheus',
      url: 'http://prometheus:9090',
    })
    const providers = parse(
      readRepo('ops/grafana/provisioning/dashboards/hypertuna-gateway.yml'),
    ) as {
      providers: { options: { path: string } }[]
    }
    const dashboardsDir = providers.providers[0]?.options.path
    expect(volumes).to.include(`./ops/grafana/dashboards:${dashboardsDir}:ro`)
    const uid = datasources.datasources[0]?.uid
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect((panel as { datasource?: { uid: string } }).datasource?.uid, panel.title).to.equal(uid)
    }
  })

  it('charts sessions, peers, latency and errors with known metric names only', () => {
    expect(dashboard.uid).to.equal('hypertuna-gateway')
    const unknown = [...used].filter((m) => !KNOWN_METRICS.has(m))
    expect(unknown).to.deep.equal([])
    expect(
      [...KNOWN_METRICS].filter((m) => !used.has(m)),
      'not charted',
    ).to.deep.equal([])
    for (const expr of exprs) {
      // Counters and histograms are charted as rates, never as raw totals.
      if (/_total|_bucket/.test(expr)) expect(expr, expr).to.match(/\brate\(/)
    }
  })

  it('uses the names the peer pool actually registers', async () => {
    const registry = new Registry()
    new PoolMetrics(registry, {
      countByState: () => ({ connecting: 0, ready: 0, unhealthy: 0, down: 0 }),
      bytes: () => ({ received: 0, sent: 0 }),
    })
    const exported = new Set<string>()
    for (const metric of await registry.getMetricsAsJSON()) {
      exported.add(metric.name)
      if (String(metric.type) === 'histogram') exported.add(`${metric.name}_bucket`)
    }
    const pool = [...used].filter((m) => m.startsWith('hypertuna_gateway_pool_'))
    expect(pool.length).to.be.greaterThan(0)
    for (const name of pool) expect(exported.has(name), name).to.equal(true)
  })
})
