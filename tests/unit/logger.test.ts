import { IncomingMessage } from 'node:http'
import { Socket } from 'node:net'
import { expect } from 'chai'
import { createLogger, redactUrl } from '../../shared/log/create-logger.js'
import { createLogSink } from '../helpers/log-sink.js'

const SECRET = 'SECRET123'

describe('createLogger', () => {
  function setup(level: 'info' | 'debug' = 'info') {
    const sink = createLogSink()
    const logger = createLogger({ level, name: 'test', destination: sink.stream })
    return { sink, logger }
  }

  it('redacts a request token in the URL, auth headers and token fields', async () => {
    const { sink, logger } = setup()
    logger.info(
      {
        req: {
          method: 'GET',
          url: `/relay/abc?token=${SECRET}&x=1`,
          headers: {
            host: 'gateway.example.com',
            'x-auth-token': SECRET,
            authorization: `Bearer ${SECRET}`,
            'x-signature': SECRET,
            cookie: `session=${SECRET}`,
          },
        },
        token: SECRET,
        session: { token: SECRET, relayKey: 'abc' },
        url: `wss://gateway.example.com/abc?token=${SECRET}`,
      },
      'client connected',
    )
    const line = await sink.waitFor((l) => l.msg === 'client connected')
    expect(sink.text()).not.to.contain(SECRET)
    const req = line.req as { url: string; headers: Record<string, string> }
    expect(req.url).to.equal('/relay/abc?token=[REDACTED]&x=1')
    expect(req.headers.host).to.equal('gateway.example.com')
    expect(req.headers['x-auth-token']).to.equal('[REDACTED]')
    expect(line.token).to.equal('[REDACTED]')
    expect(line.session).to.deep.equal({ token: '[REDACTED]', relayKey: 'abc' })
    expect(line.url).to.equal('wss://gateway.example.com/abc?token=[REDACTED]')
  })

  it('redacts a Node request object through the req serializer', async () => {
    const { sink, logger } = setup()
    const req = new IncomingMessage(new Socket())
    req.method = 'GET'
    req.url = `/abc?token=${SECRET}`
    req.headers = { host: 'gateway.example.com', 'x-auth-token': SECRET, cookie: SECRET }
    logger.info({ req }, 'incoming')
    const line = await sink.waitFor((l) => l.msg === 'incoming')
    expect(sink.text()).not.to.contain(SECRET)
    expect(line.req).to.deep.include({ method: 'GET', url: '/abc?token=[REDACTED]' })
    expect(req.headers['x-auth-token'], 'caller object untouched').to.equal(SECRET)
  })

  it('does not mutate the logged object', async () => {
    const { sink, logger } = setup()
    const logged = { session: { token: SECRET }, headers: { authorization: SECRET } }
    logger.info(logged, 'm')
    await sink.waitFor((l) => l.msg === 'm')
    expect(logged).to.deep.equal({ session: { token: SECRET }, headers: { authorization: SECRET } })
  })

  it('keeps non-secret groups that share a secret name', async () => {
    const { sink, logger } = setup()
    logger.info({ config: { token: { defaultTtl: 3600 } } }, 'cfg')
    const line = await sink.waitFor((l) => l.msg === 'cfg')
    expect(line.config).to.deep.equal({ token: { defaultTtl: 3600 } })
  })

  it('redacts headers logged outside req, and secrets in a logged config', async () => {
    const { sink, logger } = setup()
    logger.info(
      { headers: { 'x-auth-token': SECRET }, upstream: { headers: { cookie: SECRET } } },
      'h',
    )
    logger.info({ config: { registration: { secret: SECRET }, hyperswarm: { seed: SECRET } } }, 'c')
    await sink.waitFor((l) => l.msg === 'c')
    expect(sink.lines()).to.have.length(2)
    expect(sink.text()).not.to.contain(SECRET)
  })

  it('scrubs tokens from messages, interpolated arguments and child bindings', async () => {
    const { sink, logger } = setup()
    logger.child({ path: `/abc?token=${SECRET}` }).warn('retrying /abc?Token=%s now', SECRET)
    const line = await sink.waitFor((l) => l.level === 40)
    expect(sink.text()).not.to.contain(SECRET)
    expect(line.msg).to.equal('retrying /abc?Token=[REDACTED] now')
    expect(line.path).to.equal('/abc?token=[REDACTED]')
  })

  it('writes name and respects the level', async () => {
    const { sink, logger } = setup('info')
    logger.debug('hidden')
    logger.info('shown')
    const line = await sink.waitFor((l) => l.msg === 'shown')
    expect(line.name).to.equal('test')
    expect(sink.find((l) => l.msg === 'hidden')).to.equal(undefined)
  })
})

describe('redactUrl', () => {
  const cases: Array<[input: string, expected: string]> = [
    ['/abc?token=t0k&x=1', '/abc?token=[REDACTED]&x=1'],
    ['/abc?x=1&token=t0k', '/abc?x=1&token=[REDACTED]'],
    ['/abc?access_token=t0k#frag', '/abc?access_token=[REDACTED]#frag'],
    ['/abc?TOKEN=t0k', '/abc?TOKEN=[REDACTED]'],
    ['/abc?token=', '/abc?token=[REDACTED]'],
    ['redis://user:hunter2@redis:6379/0', 'redis://user:[REDACTED]@redis:6379/0'],
    ['/abc?x=1', '/abc?x=1'],
    ['plain text', 'plain text'],
  ]
  for (const [input, expected] of cases) {
    it(`${input} -> ${expected}`, () => {
      expect(redactUrl(input)).to.equal(expected)
    })
  }

  it('is idempotent', () => {
    const once = redactUrl('/a?token=x&signature=y')
    expect(redactUrl(once)).to.equal(once)
  })
})

describe('createLogSink', () => {
  it('resolves waitFor on a line written later, and rejects on timeout', async () => {
    const sink = createLogSink()
    const logger = createLogger({ level: 'info', name: 'sink', destination: sink.stream })
    const later = sink.waitFor((l) => l.msg === 'later', 1000)
    setTimeout(() => logger.info('later'), 5)
    expect((await later).name).to.equal('sink')
    let rejected: unknown
    await sink.waitFor((l) => l.msg === 'never', 20).catch((err: unknown) => (rejected = err))
    expect(rejected).to.be.instanceOf(Error)
  })
})
