import { expect } from 'chai'
import { createLogger } from '../../shared/log/create-logger.js'
import { redactQuery, redactQueryObject } from '../../shared/log/redact-query.js'
import { createLogSink } from '../helpers/log-sink.js'

const SECRET = 'S3CRET-VALUE'

describe('redactQuery', () => {
  const cases: Array<[string, string]> = [
    [`/api/relays?token=${SECRET}`, '/api/relays?token=[REDACTED]'],
    [`/a?tok%65n=${SECRET}&x=1`, '/a?tok%65n=[REDACTED]&x=1'],
    [`/a?x=1&access_token=${SECRET}#frag`, '/a?x=1&access_token=[REDACTED]#frag'],
    [`/a?token[]=${SECRET}`, '/a?token[]=[REDACTED]'],
    [
      `/a?Token=${SECRET}&relayAuthToken=${SECRET}`,
      '/a?Token=[REDACTED]&relayAuthToken=[REDACTED]',
    ],
    [`/a?sig=${SECRET}&signature=${SECRET}`, '/a?sig=[REDACTED]&signature=[REDACTED]'],
    ['/a?relayKey=abc&limit=5', '/a?relayKey=abc&limit=5'],
    ['/no-query', '/no-query'],
    ['/a?token', '/a?token'],
    ['/a?%E0=1', '/a?%E0=1'],
  ]
  for (const [input, expected] of cases) {
    it(`${input} -> ${expected}`, () => expect(redactQuery(input)).to.equal(expected))
  }

  it('copies a query object of any prototype with credential values censored', () => {
    const query = Object.create({ inherited: true }) as Record<string, unknown>
    query.token = SECRET
    query.x = '1'
    expect(redactQueryObject(query)).to.deep.equal({ token: '[REDACTED]', x: '1' })
    expect(query.token).to.equal(SECRET)
  })
})

describe('createLogger: a fastify-style request (issue 9.5)', () => {
  it('censors the parsed query object and encoded parameter names', async () => {
    const sink = createLogSink()
    const logger = createLogger({ level: 'trace', name: 'test', destination: sink.stream })
    // fastify's parser builds the query with its own prototype; pino's req serializer keeps it.
    const query = Object.create(function Query() {}.prototype as object) as Record<string, string>
    query.token = SECRET
    const raw = { method: 'POST', url: `/api/relays?tok%65n=${SECRET}`, headers: {} }
    logger.info({ req: { raw, query, id: 'r1', method: 'POST', url: raw.url } }, 'incoming request')
    await sink.waitFor((l) => l.msg === 'incoming request')
    expect(sink.text()).not.to.contain(SECRET)
  })
})
