import { expect } from 'chai'
import type { EventTemplate, NostrEvent } from 'nostr-tools/core'
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure'
import { ErrorCode, GatewayError } from '../../shared/errors.js'
import { ExampleRelay } from '../../shared/worker/example-relay.js'

const ALICE = generateSecretKey()
const BOB = generateSecretKey()
const BOB_PUBKEY = getPublicKey(BOB)

function sign(template: Partial<EventTemplate>, key: Uint8Array = ALICE): NostrEvent {
  const event = finalizeEvent(
    { kind: 1, created_at: 1000, tags: [], content: '', ...template },
    key,
  )
  // As a worker receives it: parsed JSON, without nostr-tools' cached verification mark.
  return JSON.parse(JSON.stringify(event)) as NostrEvent
}

const parse = (lines: string[]): unknown[] => lines.map((line) => JSON.parse(line) as unknown)
// The relay re-serializes events with the NIP-01 field order, whatever order they arrived in.
const eventLine = (subId: string, event: NostrEvent): string => {
  const { id, pubkey, created_at, kind, tags, content, sig } = event
  return JSON.stringify(['EVENT', subId, { id, pubkey, created_at, kind, tags, content, sig }])
}

describe('ExampleRelay', () => {
  let relay: ExampleRelay
  let output: Array<[string, string]>

  beforeEach(() => {
    relay = new ExampleRelay()
    output = []
    relay.onOutput((connectionKey, line) => output.push([connectionKey, line]))
  })

  afterEach(() => relay.close())

  const publish = (event: NostrEvent, connectionKey = 'pub'): unknown[] =>
    parse(relay.handleMessage(connectionKey, ['EVENT', event]))
  const req = (subId: string, ...filters: unknown[]): string[] =>
    relay.handleMessage('reader', ['REQ', subId, ...filters])
  const reqIds = (...filters: unknown[]): string[] =>
    parse(req('q', ...filters))
      .slice(0, -1)
      .map((message) => ((message as unknown[])[2] as NostrEvent).id)

  describe('EVENT', () => {
    it('accepts a valid event with OK true', () => {
      const event = sign({ content: 'hi' })
      expect(publish(event)).to.deep.equal([['OK', event.id, true, '']])
    })

    it('rejects a bad signature with OK false and an invalid: reason', () => {
      const event = sign({})
      const forged = {
        ...event,
        sig: event.sig.startsWith('0') ? `1${event.sig.slice(1)}` : `0${event.sig.slice(1)}`,
      }
      expect(publish(forged)).to.deep.equal([
        ['OK', event.id, false, 'invalid: bad event id or signature'],
      ])
      expect(reqIds({})).to.deep.equal([])
    })

    it('rejects content that does not hash to the id', () => {
      const event = sign({ content: 'original' })
      expect(publish({ ...event, content: 'tampered' })).to.deep.equal([
        ['OK', event.id, false, 'invalid: bad event id or signature'],
      ])
    })

    it('does not trust a verification mark cached by nostr-tools on the caller object', () => {
      const event = finalizeEvent({ kind: 1, created_at: 1, tags: [], content: 'a' }, ALICE)
      event.content = 'tampered after signing'
      expect(publish(event)).to.deep.equal([
        ['OK', event.id, false, 'invalid: bad event id or signature'],
      ])
    })

    it('answers a malformed event with OK false when it has a usable id, else NOTICE', () => {
      const event = sign({})
      expect(publish({ ...event, kind: -1 })).to.deep.equal([
        ['OK', event.id, false, 'invalid: kind must be an integer between 0 and 65535'],
      ])
      expect(publish({ ...event, tags: [['t', 1]] } as unknown as NostrEvent)).to.deep.equal([
        ['OK', event.id, false, 'invalid: tags must be an array of arrays of strings'],
      ])
      expect(publish({ ...event, sig: 'ab' })).to.deep.equal([
        ['OK', event.id, false, 'invalid: sig must be 128 lowercase hex characters'],
      ])
      expect(publish({ ...event, id: 'nope' })).to.deep.equal([
        ['NOTICE', 'invalid: id must be 64 lowercase hex characters'],
      ])
      expect(parse(relay.handleMessage('pub', ['EVENT', 'text']))).to.deep.equal([
        ['NOTICE', 'invalid: event must be a JSON object'],
      ])
    })

    it('reports a duplicate with OK true and a duplicate: reason', () => {
      const event = sign({})
      publish(event)
      expect(publish(event)).to.deep.equal([
        ['OK', event.id, true, 'duplicate: already have this event'],
      ])
      expect(reqIds({})).to.deep.equal([event.id])
    })

    it('uses the verify option instead of signature checking', () => {
      relay = new ExampleRelay({ verify: () => false })
      const event = sign({})
      expect(publish(event)).to.deep.equal([
        ['OK', event.id, false, 'invalid: bad event id or signature'],
      ])
    })

    it('stores a copy, unaffected by later changes to the caller object', () => {
      const event = sign({ tags: [['t', 'a']] })
      publish(event)
      event.tags[0]?.splice(1, 1, 'changed')
      expect(req('s', { '#t': ['a'] })[0]).to.equal(
        eventLine('s', { ...event, tags: [['t', 'a']] }),
      )
    })
  })

  describe('REQ', () => {
    const events = [
      sign({ created_at: 100, kind: 1, tags: [['t', 'nostr']] }),
      sign({ created_at: 300, kind: 7, tags: [['t', 'dev']] }),
      sign({ created_at: 200, kind: 1, tags: [['t', 'nostr']] }, BOB),
      sign({ created_at: 400, kind: 1 }, BOB),
    ]
    const [e100, e300, e200, e400] = events as [NostrEvent, NostrEvent, NostrEvent, NostrEvent]

    beforeEach(() => {
      for (const event of events) publish(event)
    })

    it('returns stored events newest first as exact EVENT lines, then EOSE', () => {
      expect(req('sub1', {})).to.deep.equal([
        eventLine('sub1', e400),
        eventLine('sub1', e300),
        eventLine('sub1', e200),
        eventLine('sub1', e100),
        '["EOSE","sub1"]',
      ])
    })

    it('orders equal created_at by id', () => {
      const a = sign({ created_at: 500, content: 'a' })
      const b = sign({ created_at: 500, content: 'b' })
      publish(a)
      publish(b)
      const expected = [a.id, b.id].sort()
      expect(reqIds({ since: 500 })).to.deep.equal(expected)
    })

    it('honours ids, authors and kinds', () => {
      expect(reqIds({ ids: [e300.id, e100.id] })).to.deep.equal([e300.id, e100.id])
      expect(reqIds({ authors: [BOB_PUBKEY] })).to.deep.equal([e400.id, e200.id])
      expect(reqIds({ kinds: [7] })).to.deep.equal([e300.id])
      expect(reqIds({ kinds: [1], authors: [BOB_PUBKEY] })).to.deep.equal([e400.id, e200.id])
    })

    it('honours #t tag filters', () => {
      expect(reqIds({ '#t': ['nostr'] })).to.deep.equal([e200.id, e100.id])
      expect(reqIds({ '#t': ['dev', 'nostr'] })).to.deep.equal([e300.id, e200.id, e100.id])
      expect(reqIds({ '#t': ['none'] })).to.deep.equal([])
    })

    it('honours since and until inclusively', () => {
      expect(reqIds({ since: 200 })).to.deep.equal([e400.id, e300.id, e200.id])
      expect(reqIds({ until: 300 })).to.deep.equal([e300.id, e200.id, e100.id])
      expect(reqIds({ since: 200, until: 300 })).to.deep.equal([e300.id, e200.id])
      expect(reqIds({ kinds: [1], since: 150, until: 250 })).to.deep.equal([e200.id])
    })

    it('honours limit by keeping the newest', () => {
      expect(reqIds({ limit: 2 })).to.deep.equal([e400.id, e300.id])
      expect(reqIds({ kinds: [1], limit: 1 })).to.deep.equal([e400.id])
      expect(req('z', { limit: 0 })).to.deep.equal(['["EOSE","z"]'])
    })

    it('caps results with maxLimit, also when a filter has no limit', () => {
      relay = new ExampleRelay({ maxLimit: 2 })
      for (const event of events) publish(event)
      expect(reqIds({})).to.deep.equal([e400.id, e300.id])
      expect(reqIds({ limit: 100 })).to.deep.equal([e400.id, e300.id])
    })

    it('applies limit per filter and merges several filters without repeats', () => {
      const ids = reqIds({ kinds: [7] }, { kinds: [1], limit: 1 }, { ids: [e300.id, e100.id] })
      expect(ids).to.deep.equal([e400.id, e300.id, e100.id])
    })

    it('replaces an existing subscription with the same id', () => {
      req('s', { kinds: [7] })
      req('s', { kinds: [1] })
      expect(relay.subscriptions('reader')).to.deep.equal(['s'])
      output = []
      const fresh = sign({ kind: 1, created_at: 900 })
      publish(fresh)
      expect(output).to.deep.equal([['reader', eventLine('s', fresh)]])
    })

    it('limits subscriptions per connection with CLOSED error:', () => {
      relay = new ExampleRelay({ maxSubscriptionsPerConnection: 2 })
      req('a', {})
      req('b', {})
      expect(parse(req('c', {}))).to.deep.equal([['CLOSED', 'c', 'error: too many subscriptions']])
      expect(relay.subscriptions('reader')).to.deep.equal(['a', 'b'])
      // Replacing an open subscription stays within the limit.
      expect(parse(req('b', { kinds: [1] }))).to.deep.equal([['EOSE', 'b']])
    })
  })

  describe('live delivery', () => {
    it('sends a new event to matching subscriptions of every connection, the sender included', () => {
      relay.handleMessage('A', ['REQ', 'subA', { kinds: [1] }])
      relay.handleMessage('B', ['REQ', 'subB', { kinds: [7] }])
      relay.handleMessage('C', ['REQ', 'subC', { '#t': ['x'] }, { authors: [BOB_PUBKEY] }])
      const event = sign({ kind: 1, tags: [['t', 'x']] })
      expect(publish(event, 'C')).to.deep.equal([['OK', event.id, true, '']])
      expect(output).to.deep.equal([
        ['A', eventLine('subA', event)],
        ['C', eventLine('subC', event)],
      ])
    })

    it('delivers nothing for a duplicate or a rejected event', () => {
      const event = sign({})
      publish(event)
      relay.handleMessage('A', ['REQ', 's', {}])
      publish(event)
      publish({ ...event, content: 'tampered' })
      expect(output).to.deep.equal([])
    })

    it('stops after CLOSE, which replies CLOSED', () => {
      relay.handleMessage('A', ['REQ', 's', {}])
      expect(parse(relay.handleMessage('A', ['CLOSE', 's']))).to.deep.equal([['CLOSED', 's', '']])
      expect(relay.subscriptions('A')).to.deep.equal([])
      publish(sign({}))
      expect(output).to.deep.equal([])
    })

    it('stops after closeConnection, leaving other connections alone', () => {
      relay.handleMessage('A', ['REQ', 's1', {}])
      relay.handleMessage('A', ['REQ', 's2', {}])
      relay.handleMessage('B', ['REQ', 's1', {}])
      relay.closeConnection('A')
      expect(relay.subscriptions('A')).to.deep.equal([])
      expect(relay.subscriptions('B')).to.deep.equal(['s1'])
      const event = sign({})
      publish(event)
      expect(output).to.deep.equal([['B', eventLine('s1', event)]])
    })

    it('stops for a listener that unsubscribed', () => {
      const second: string[] = []
      const off = relay.onOutput((_key, line) => second.push(line))
      relay.handleMessage('A', ['REQ', 's', {}])
      off()
      publish(sign({}))
      expect(output).to.have.length(1)
      expect(second).to.deep.equal([])
    })
  })

  describe('replaceable and ephemeral kinds', () => {
    it('keeps only the newest replaceable event per pubkey and kind', () => {
      const older = sign({ kind: 0, created_at: 100, content: 'old' })
      const newer = sign({ kind: 0, created_at: 200, content: 'new' })
      const bobs = sign({ kind: 0, created_at: 50 }, BOB)
      publish(newer)
      publish(bobs)
      expect(publish(older)).to.deep.equal([
        ['OK', older.id, true, 'duplicate: have a newer version of this replaceable event'],
      ])
      expect(reqIds({ kinds: [0] })).to.deep.equal([newer.id, bobs.id])
      const newest = sign({ kind: 0, created_at: 300 })
      publish(newest)
      expect(reqIds({ kinds: [0] })).to.deep.equal([newest.id, bobs.id])
    })

    it('replaces kind 10000-19999 and keeps the lower id on a created_at tie', () => {
      const [low, high] = [
        sign({ kind: 10002, content: 'a' }),
        sign({ kind: 10002, content: 'b' }),
      ].sort((x, y) => (x.id < y.id ? -1 : 1)) as [NostrEvent, NostrEvent]
      publish(high)
      publish(low)
      expect(reqIds({ kinds: [10002] })).to.deep.equal([low.id])
    })

    it('replaces parameterized events per d tag', () => {
      const a1 = sign({ kind: 30023, created_at: 100, tags: [['d', 'a']] })
      const a2 = sign({ kind: 30023, created_at: 200, tags: [['d', 'a']] })
      const b = sign({ kind: 30023, created_at: 150, tags: [['d', 'b']] })
      for (const event of [a1, b, a2]) publish(event)
      expect(reqIds({ kinds: [30023] })).to.deep.equal([a2.id, b.id])
    })

    it('delivers an ephemeral event without storing it', () => {
      relay.handleMessage('A', ['REQ', 's', { kinds: [20001] }])
      const event = sign({ kind: 20001 })
      expect(publish(event)).to.deep.equal([['OK', event.id, true, '']])
      expect(output).to.deep.equal([['A', eventLine('s', event)]])
      expect(reqIds({ kinds: [20001] })).to.deep.equal([])
    })
  })

  describe('limits', () => {
    it('evicts the oldest events by created_at past maxEvents', () => {
      relay = new ExampleRelay({ maxEvents: 2 })
      const events = [300, 100, 200].map((createdAt) => sign({ created_at: createdAt }))
      for (const event of events) publish(event)
      expect(reqIds({})).to.deep.equal([events[0]?.id, events[2]?.id])
      const ancient = sign({ created_at: 1 })
      publish(ancient)
      expect(reqIds({})).to.deep.equal([events[0]?.id, events[2]?.id])
    })

    it('rejects non-positive limits in the constructor with CONFIG_INVALID', () => {
      for (const opts of [{ maxEvents: 0 }, { maxLimit: 1.5 }, { maxFiltersPerReq: -1 }]) {
        expect(() => new ExampleRelay(opts))
          .to.throw(GatewayError)
          .with.property('code', ErrorCode.CONFIG_INVALID)
      }
    })
  })

  describe('malformed input', () => {
    const notices: Array<[string, unknown, string]> = [
      ['a non-array', { verb: 'REQ' }, 'invalid: message must be a JSON array'],
      ['a string', '["REQ","s",{}]', 'invalid: message must be a JSON array'],
      ['null', null, 'invalid: message must be a JSON array'],
      ['an empty array', [], 'invalid: message must start with a message type string'],
      ['an unknown verb', ['COUNT', 's', {}], 'invalid: unsupported message type "COUNT"'],
      ['a numeric verb', [1, 's'], 'invalid: message must start with a message type string'],
      ['an EVENT without event', ['EVENT'], 'invalid: EVENT message must be ["EVENT", <event>]'],
      [
        'a huge subscription id',
        ['REQ', 'x'.repeat(65), {}],
        'invalid: REQ subscription id must be a non-empty string of at most 64 characters',
      ],
      [
        'an empty subscription id',
        ['REQ', '', {}],
        'invalid: REQ subscription id must be a non-empty string of at most 64 characters',
      ],
      [
        'a non-string subscription id',
        ['REQ', 5, {}],
        'invalid: REQ subscription id must be a non-empty string of at most 64 characters',
      ],
      [
        'a CLOSE without id',
        ['CLOSE'],
        'invalid: CLOSE message must be ["CLOSE", <subscription id>]',
      ],
    ]
    for (const [name, message, reason] of notices) {
      it(`answers ${name} with NOTICE`, () => {
        expect(parse(relay.handleMessage('A', message))).to.deep.equal([['NOTICE', reason]])
        expect(relay.subscriptions('A')).to.deep.equal([])
      })
    }

    it('truncates a huge unknown verb in the NOTICE', () => {
      const [line] = relay.handleMessage('A', ['V'.repeat(100_000)])
      expect(line).to.equal(
        JSON.stringify(['NOTICE', `invalid: unsupported message type "${'V'.repeat(32)}..."`]),
      )
    })

    const closures: Array<[string, unknown[], string]> = [
      [
        'a bad filter',
        [{ kinds: 'x' }],
        'invalid: kinds must be an array of integers between 0 and 65535',
      ],
      ['an unknown filter field', [{ search: 'x' }], 'invalid: unsupported filter field: search'],
      ['no filter', [], 'invalid: REQ needs at least one filter'],
      [
        'too many filters',
        Array.from({ length: 11 }, () => ({})),
        'invalid: too many filters (max 10)',
      ],
    ]
    for (const [name, filters, reason] of closures) {
      it(`answers a REQ with ${name} with CLOSED and opens nothing`, () => {
        expect(parse(relay.handleMessage('A', ['REQ', 's', ...filters]))).to.deep.equal([
          ['CLOSED', 's', reason],
        ])
        expect(relay.subscriptions('A')).to.deep.equal([])
      })
    }

    it('ends an open subscription when a REQ reusing its id is rejected', () => {
      relay.handleMessage('A', ['REQ', 's', {}])
      relay.handleMessage('A', ['REQ', 's', { bad: 1 }])
      expect(relay.subscriptions('A')).to.deep.equal([])
    })
  })

  describe('close', () => {
    it('is idempotent, drops everything and answers later messages with NOTICE', () => {
      relay.handleMessage('A', ['REQ', 's', {}])
      relay.close()
      relay.close()
      expect(relay.subscriptions('A')).to.deep.equal([])
      expect(parse(relay.handleMessage('A', ['EVENT', sign({})]))).to.deep.equal([
        ['NOTICE', 'error: relay is closed'],
      ])
      expect(output).to.deep.equal([])
    })
  })
})
