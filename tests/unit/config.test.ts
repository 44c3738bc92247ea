import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'chai'
import { GatewayError } from '../../shared/errors.js'
import { loadConfig } from '../../shared/config/load-config.js'
import type { ConfigEnv, ConfigProblem } from '../../shared/config/load-config.js'
import type { GatewayConfig } from '../../shared/config/schema.js'

const SECRET = 'abcdefghijklmnop' // exactly 16 bytes
const SEED = 'ab'.repeat(32)

function loadError(env: ConfigEnv, file?: string): GatewayError {
  try {
    loadConfig(file === undefined ? { env } : { env, file })
  } catch (err) {
    expect(err).to.be.instanceOf(GatewayError)
    return err as GatewayError
  }
  throw new Error('expected loadConfig to throw')
}

function problems(err: GatewayError): ConfigProblem[] {
  return (err.details?.problems ?? []) as ConfigProblem[]
}

describe('loadConfig', () => {
  let dir: string
  let counter = 0

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-config-'))
  })

  after(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  function writeConfig(content: unknown): string {
    const path = join(dir, `config-${counter++}.json`)
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
    return path
  }

  describe('defaults', () => {
    it('returns every documented default for an empty environment', () => {
      const expected: GatewayConfig = {
        configFile: '',
        publicUrl: '',
        trustedProxies: [],
        log: { level: 'info' },
        proxy: {
          host: '127.0.0.1',
          port: 8080,
          maxFrameBytes: 262144,
          maxQueuedMessages: 256,
          maxBufferedBytes: 4194304,
          maxSessionsPerToken: 1000,
          maxSessionsPerIp: 128,
          maxSessionsPerPubkey: 64,
          sessionOpensPerIpPerMinute: 600,
          pubkeyMessagesPerSecond: 100,
          sessionLeaseMs: 30000,
          maxSubscriptions: 200,
          messagesPerSecond: 50,
          messageBurst: 500,
          tunnelBytesPerSecond: 1048576,
          linkWaitMs: 20000,
          pollIntervalMs: 1000,
          legacyPipelineDepth: 8,
          legacyPipelineOff: [],
          triggeredPollGapMs: 50,
          pingIntervalMs: 30000,
          shutdownGraceMs: 10000,
        },
        registrar: {
          host: '127.0.0.1',
          port: 8081,
          maxSkewSeconds: 300,
          legacyDelete: true,
          rateLimitPerMinute: 120,
          bodyLimitBytes: 262144,
          gatewayKeys: [],
        },
        pool: {
          joinTopic: false,
          requestTimeoutMs: 30000,
          healthIntervalMs: 5000,
          healthTimeoutMs: 5000,
          unhealthyAfter: 2,
          downAfter: 4,
          openTimeoutMs: 20000,
          probeIntervalMs: 1000,
          probeTimeoutMs: 1500,
          idleTimeoutMs: 120000,
          backoffMinMs: 500,
          backoffMaxMs: 30000,
        },
        registration: {
          secret: '',
          ttl: 300,
          redisUrl: '',
          redisPrefix: 'gateway:registrations:',
          workerSecretKey: '',
          multiTenant: false,
        },
        token: { defaultTtl: 3600, maxTtl: 604800 },
        admin: { token: '' },
        hyperswarm: {
          bootstrap: [],
          host: '',
          seed: '',
          port: 0,
          reachable: false,
          relays: [],
          relayServer: false,
        },
      }
      expect(loadConfig({ env: {} })).to.deep.equal(expected)
    })

    it('returns a deeply frozen object', () => {
      const config = loadConfig({ env: { GATEWAY_HYPERSWARM_BOOTSTRAP: 'a.example:1' } })
      expect(Object.isFrozen(config)).to.equal(true)
      expect(Object.isFrozen(config.proxy)).to.equal(true)
      expect(Object.isFrozen(config.hyperswarm.bootstrap)).to.equal(true)
      expect(Object.isFrozen(config.hyperswarm.bootstrap[0])).to.equal(true)
    })

    it('never reads process.env', () => {
      const saved = process.env.GATEWAY_PROXY_PORT
      process.env.GATEWAY_PROXY_PORT = '1234'
      try {
        expect(loadConfig({ env: {} }).proxy.port).to.equal(8080)
      } finally {
        if (saved === undefined) delete process.env.GATEWAY_PROXY_PORT
        else process.env.GATEWAY_PROXY_PORT = saved
      }
    })
  })

  describe('environment', () => {
    it('overrides every default with typed values', () => {
      const config = loadConfig({
        env: {
          GATEWAY_PUBLIC_URL: 'https://gateway.example.com',
          GATEWAY_LOG_LEVEL: 'debug',
          GATEWAY_PROXY_HOST: '0.0.0.0',
          GATEWAY_PROXY_PORT: '9000',
          GATEWAY_REGISTRAR_HOST: '::',
          GATEWAY_REGISTRAR_PORT: '0',
          GATEWAY_REGISTRATION_SECRET: SECRET,
          GATEWAY_REGISTRATION_TTL: '60',
          GATEWAY_REGISTRATION_REDIS: 'rediss://:pw@redis.internal:6380/2',
          GATEWAY_REGISTRATION_REDIS_PREFIX: 'gw:',
          GATEWAY_DEFAULT_TOKEN_TTL: '120',
          GATEWAY_HYPERSWARM_HOST: '10.0.0.2',
          GATEWAY_HYPERSWARM_SEED: SEED,
        },
      })
      expect(config.publicUrl).to.equal('https://gateway.example.com')
      expect(config.log.level).to.equal('debug')
      expect(config.proxy).to.deep.include({ host: '0.0.0.0', port: 9000 })
      expect(config.registrar).to.deep.include({ host: '::', port: 0 })
      expect(config.registration).to.deep.equal({
        secret: SECRET,
        ttl: 60,
        redisUrl: 'rediss://:pw@redis.internal:6380/2',
        redisPrefix: 'gw:',
        workerSecretKey: '',
        multiTenant: false,
      })
      expect(config.token.defaultTtl).to.equal(120)
      expect(config.hyperswarm.host).to.equal('10.0.0.2')
      expect(config.hyperswarm.seed).to.equal(SEED)
    })

    it('measures the secret in bytes, not characters', () => {
      const eightChars = 'éééééééé' // 16 bytes in UTF-8
      const config = loadConfig({ env: { GATEWAY_REGISTRATION_SECRET: eightChars } })
      expect(config.registration.secret).to.equal(eightChars)
    })
  })

  describe('hyperswarm bootstrap', () => {
    it('parses a comma-separated host:port list', () => {
      const config = loadConfig({
        env: { GATEWAY_HYPERSWARM_BOOTSTRAP: 'dht.example.org:49737, 10.0.0.5:1234,' },
      })
      expect(config.hyperswarm.bootstrap).to.deep.equal([
        { host: 'dht.example.org', port: 49737 },
        { host: '10.0.0.5', port: 1234 },
      ])
    })

    it('means the public DHT when empty', () => {
      const config = loadConfig({ env: { GATEWAY_HYPERSWARM_BOOTSTRAP: '' } })
      expect(config.hyperswarm.bootstrap).to.deep.equal([])
    })

    it('accepts an array of {host, port} objects from the config file', () => {
      const file = writeConfig({ hyperswarm: { bootstrap: [{ host: '10.1.1.1', port: 49737 }] } })
      const config = loadConfig({ env: {}, file })
      expect(config.hyperswarm.bootstrap).to.deep.equal([{ host: '10.1.1.1', port: 49737 }])
    })

    it('rejects a bad entry, naming the variable and the entry', () => {
      const err = loadError({ GATEWAY_HYPERSWARM_BOOTSTRAP: 'ok.example:1,no-port,x:70000' })
      expect(err.code).to.equal('CONFIG_INVALID')
      expect(err.message).to.contain('GATEWAY_HYPERSWARM_BOOTSTRAP')
      expect(err.message).to.contain('"no-port"')
      expect(err.message).to.contain('"x:70000"')
    })
  })

  describe('config file', () => {
    it('is read from GATEWAY_CONFIG, and the environment wins over it', () => {
      const file = writeConfig({
        proxy: { host: '0.0.0.0', port: 7000 },
        registration: { ttl: 42 },
      })
      const config = loadConfig({ env: { GATEWAY_CONFIG: file, GATEWAY_PROXY_PORT: '9000' } })
      expect(config.proxy).to.deep.include({ host: '0.0.0.0', port: 9000 })
      expect(config.registration.ttl).to.equal(42)
      expect(config.configFile).to.equal(file)
    })

    it('is taken from the file option in preference to GATEWAY_CONFIG', () => {
      const fromEnv = writeConfig({ proxy: { port: 7001 } })
      const fromOption = writeConfig({ proxy: { port: 7002 } })
      const config = loadConfig({ env: { GATEWAY_CONFIG: fromEnv }, file: fromOption })
      expect(config.proxy.port).to.equal(7002)
      expect(config.configFile).to.equal(fromOption)
    })

    it('accepts an empty file', () => {
      expect(loadConfig({ env: {}, file: writeConfig('') }).proxy.port).to.equal(8080)
    })

    it('rejects a missing file, naming GATEWAY_CONFIG', () => {
      const err = loadError({ GATEWAY_CONFIG: join(dir, 'missing.json') })
      expect(err.code).to.equal('CONFIG_INVALID')
      expect(err.message).to.contain('GATEWAY_CONFIG')
      expect(err.message).to.contain('missing.json')
    })

    it('rejects invalid JSON, naming GATEWAY_CONFIG', () => {
      const err = loadError({ GATEWAY_CONFIG: writeConfig('{"proxy": ') })
      expect(err.code).to.equal('CONFIG_INVALID')
      expect(err.message).to.contain('GATEWAY_CONFIG')
      expect(err.message).to.contain('not valid JSON')
    })

    it('rejects a file that is not a JSON object', () => {
      const err = loadError({}, writeConfig([1, 2]))
      expect(err.code).to.equal('CONFIG_INVALID')
      expect(err.message).to.contain('GATEWAY_CONFIG')
    })

    it('rejects an unknown key, naming GATEWAY_CONFIG and the key', () => {
      const err = loadError({}, writeConfig({ proxy: { port: 8080, prot: 1 } }))
      expect(err.code).to.equal('CONFIG_INVALID')
      expect(err.message).to.contain('GATEWAY_CONFIG')
      expect(err.message).to.contain('proxy.prot')
    })

    it('rejects a group replaced by a scalar', () => {
      const err = loadError({}, writeConfig({ proxy: 8080 }))
      expect(err.code).to.equal('CONFIG_INVALID')
      expect(err.message).to.contain('GATEWAY_CONFIG')
    })

    it('rejects a group replaced by a scalar while the environment sets a member', () => {
      const err = loadError({ GATEWAY_PROXY_PORT: '9000' }, writeConfig({ proxy: 8080 }))
      expect(err.code).to.equal('CONFIG_INVALID')
      expect(err.message).to.contain('GATEWAY_CONFIG')
    })

    it('names both the variable and the file for a bad value in the file', () => {
      const file = writeConfig({ registrar: { port: 'eighty' } })
      const err = loadError({}, file)
      expect(err.message).to.contain('GATEWAY_REGISTRAR_PORT')
      expect(err.message).to.contain(file)
    })
  })

  describe('invalid values', () => {
    const cases: Array<[name: string, value: string]> = [
      ['GATEWAY_PROXY_PORT', '70000'],
      ['GATEWAY_PROXY_PORT', '8080abc'],
      ['GATEWAY_PROXY_PORT', ''],
      ['GATEWAY_REGISTRAR_PORT', '-1'],
      ['GATEWAY_PROXY_HOST', ''],
      ['GATEWAY_REGISTRATION_TTL', '0'],
      ['GATEWAY_REGISTRATION_TTL', '1.5'],
      ['GATEWAY_DEFAULT_TOKEN_TTL', '300s'],
      ['GATEWAY_REGISTRATION_REDIS_PREFIX', ''],
      ['GATEWAY_PUBLIC_URL', 'gateway.example.com'],
      ['GATEWAY_PUBLIC_URL', 'ftp://gateway.example.com'],
      ['GATEWAY_PUBLIC_URL', 'https://gateway.example.com/?token=x'],
      ['GATEWAY_REGISTRATION_REDIS', 'http://redis.internal:6379'],
      ['GATEWAY_HYPERSWARM_HOST', 'dht.example.org'],
      ['GATEWAY_HYPERSWARM_SEED', 'ab'.repeat(31)],
      ['GATEWAY_HYPERSWARM_SEED', 'zz'.repeat(32)],
      ['GATEWAY_LOG_LEVEL', 'verbose'],
      ['GATEWAY_POOL_JOIN_TOPIC', 'maybe'],
      ['GATEWAY_REGISTRAR_LEGACY_DELETE', '2'],
      ['GATEWAY_POOL_HEALTH_INTERVAL_MS', '0'],
      ['GATEWAY_PROXY_MAX_FRAME_BYTES', '1e6'],
      ['GATEWAY_TRUSTED_PROXIES', 'caddy'],
      ['GATEWAY_TRUSTED_PROXIES', '10.0.0.1, 10.0.0.300'],
      ['GATEWAY_TRUSTED_PROXIES', '172.30.80.0/33'],
      ['GATEWAY_TRUSTED_PROXIES', '172.30.80.0/24/1'],
    ]

    it('reads booleans strictly and lists as comma-separated', () => {
      const config = loadConfig({
        env: {
          GATEWAY_POOL_JOIN_TOPIC: 'true',
          GATEWAY_REGISTRAR_LEGACY_DELETE: '0',
          GATEWAY_TRUSTED_PROXIES: '10.0.0.1, 10.0.0.2, 172.30.80.0/24, ::1, fd00::/8',
        },
      })
      expect(config.pool.joinTopic).to.equal(true)
      expect(config.registrar.legacyDelete).to.equal(false)
      expect(config.trustedProxies).to.deep.equal([
        '10.0.0.1',
        '10.0.0.2',
        '172.30.80.0/24',
        '::1',
        'fd00::/8',
      ])
    })
    for (const [name, value] of cases) {
      it(`rejects ${name}=${JSON.stringify(value)}, naming the variable`, () => {
        const err = loadError({ [name]: value })
        expect(err.code).to.equal('CONFIG_INVALID')
        expect(err.message).to.contain(name)
        expect(problems(err).map((p) => p.variable)).to.deep.equal([name])
      })
    }

    it('rejects a short secret with SECRET_TOO_SHORT details, without echoing it', () => {
      const err = loadError({ GATEWAY_REGISTRATION_SECRET: 'fifteen-bytes!!' })
      expect(err.code).to.equal('CONFIG_INVALID')
      expect(err.message).to.contain('GATEWAY_REGISTRATION_SECRET')
      expect(err.message).not.to.contain('fifteen-bytes!!')
      expect(problems(err)[0]?.code).to.equal('SECRET_TOO_SHORT')
    })

    it('never echoes sensitive values', () => {
      const err = loadError({
        GATEWAY_HYPERSWARM_SEED: 'not-a-hex-seed-value',
        GATEWAY_REGISTRATION_REDIS: 'memcached://user:hunter2@cache:11211',
      })
      expect(err.message).to.contain('GATEWAY_HYPERSWARM_SEED')
      expect(err.message).to.contain('GATEWAY_REGISTRATION_REDIS')
      expect(err.message).not.to.contain('not-a-hex-seed-value')
      expect(err.message).not.to.contain('hunter2')
    })

    it('reports every bad variable in one error', () => {
      const err = loadError({
        GATEWAY_PROXY_PORT: 'http',
        GATEWAY_HYPERSWARM_BOOTSTRAP: 'nope',
        GATEWAY_REGISTRATION_SECRET: 'short',
      })
      expect(problems(err).map((p) => p.variable)).to.have.members([
        'GATEWAY_PROXY_PORT',
        'GATEWAY_HYPERSWARM_BOOTSTRAP',
        'GATEWAY_REGISTRATION_SECRET',
      ])
      for (const p of problems(err)) expect(err.message).to.contain(p.message)
    })
  })
})
