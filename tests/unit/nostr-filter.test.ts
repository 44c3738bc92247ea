import { expect } from 'chai'
import type { NostrEvent } from 'nostr-tools/core'
import { matchFilter, parseFilter } from '../../shared/worker/nostr-filter.js'
import type { Filter } from '../../shared/worker/nostr-filter.js'

const ID = 'a'.repeat(64)
const PUBKEY = 'b'.repeat(64)

const event: NostrEvent = {
  id: ID,
  pubkey: PUBKEY,
  created_at: 1000,
  kind: 1,
  tags: [['t', 'nostr'], ['e', 'c'.repeat(64), 'wss://relay.example'], ['p']],
  content: 'hello',
  sig: 'd'.repeat(128),
}

function parsed(input: unknown): Filter {
  const filter = parseFilter(input)
  if (typeof filter === 'string') throw new Error(`unexpected parse error: ${filter}`)
  return filter
}

const matches = (input: unknown): boolean => matchFilter(parsed(input), event)

describe('nostr-filter', () => {
  describe('parseFilter', () => {
    it('parses every NIP-01 field into sets and numbers', () => {
      const filter = parsed({
        ids: [ID],
        authors: [PUBKEY],
        kinds: [1, 7],
        '#t': ['nostr', 'dev'],
        since: 10,
        until: 20,
        limit: 5,
      })
      expect([...(filter.ids ?? [])]).to.deep.equal([ID])
      expect([...(filter.authors ?? [])]).to.deep.equal([PUBKEY])
      expect([...(filter.kinds ?? [])]).to.deep.equal([1, 7])
      expect([...(filter.tags?.get('t') ?? [])]).to.deep.equal(['nostr', 'dev'])
      expect(filter).to.include({ since: 10, until: 20, limit: 5 })
    })

    it('accepts an empty filter', () => {
      expect(parsed({})).to.deep.equal({})
    })

    const invalid: Array<[string, unknown, string]> = [
      ['a non-object', 'x', 'filter must be a JSON object'],
      ['an array', [], 'filter must be a JSON object'],
      ['null', null, 'filter must be a JSON object'],
      [
        'a short id',
        { ids: ['abc'] },
        'ids must be an array of 64-character lowercase hex strings',
      ],
      [
        'an uppercase author',
        { authors: ['B'.repeat(64)] },
        'authors must be an array of 64-character lowercase hex strings',
      ],
      ['a non-array kinds', { kinds: 1 }, 'kinds must be an array of integers between 0 and 65535'],
      ['a fractional kind', { kinds: [1.5] }, 'kinds must be an array of integers'],
      ['a kind out of range', { kinds: [70000] }, 'kinds must be an array of integers'],
      ['a negative since', { since: -1 }, 'since must be a non-negative integer'],
      ['a string until', { until: '5' }, 'until must be a non-negative integer'],
      ['a fractional limit', { limit: 1.5 }, 'limit must be a non-negative integer'],
      ['a non-string tag value', { '#t': [1] }, '#t must be an array of strings'],
      ['a multi-letter tag key', { '#tt': ['x'] }, 'unsupported filter field: #tt'],
      ['an unknown field', { search: 'x' }, 'unsupported filter field: search'],
    ]
    for (const [name, input, reason] of invalid) {
      it(`rejects ${name}`, () => {
        const result = parseFilter(input)
        expect(result).to.be.a('string')
        expect(result).to.include(reason)
      })
    }

    it('truncates a huge unknown key in its error', () => {
      const result = parseFilter({ ['x'.repeat(10_000)]: 1 })
      expect(result).to.equal(`unsupported filter field: ${'x'.repeat(32)}...`)
    })
  })

  describe('matchFilter', () => {
    it('matches on ids, authors and kinds', () => {
      expect(matches({ ids: [ID] })).to.equal(true)
      expect(matches({ ids: ['e'.repeat(64)] })).to.equal(false)
      expect(matches({ authors: ['e'.repeat(64), PUBKEY] })).to.equal(true)
      expect(matches({ authors: ['e'.repeat(64)] })).to.equal(false)
      expect(matches({ kinds: [0, 1] })).to.equal(true)
      expect(matches({ kinds: [0] })).to.equal(false)
    })

    it('treats an empty list as matching nothing', () => {
      expect(matches({ kinds: [] })).to.equal(false)
      expect(matches({ '#t': [] })).to.equal(false)
    })

    it('matches since and until inclusively', () => {
      expect(matches({ since: 1000, until: 1000 })).to.equal(true)
      expect(matches({ since: 1001 })).to.equal(false)
      expect(matches({ until: 999 })).to.equal(false)
    })

    it('matches a tag condition on the first tag value only', () => {
      expect(matches({ '#t': ['other', 'nostr'] })).to.equal(true)
      expect(matches({ '#t': ['dev'] })).to.equal(false)
      expect(matches({ '#e': ['c'.repeat(64)] })).to.equal(true)
      expect(matches({ '#e': ['wss://relay.example'] })).to.equal(false)
      // A tag without a value never matches, even for an empty-string query.
      expect(matches({ '#p': [''] })).to.equal(false)
      // Tag letters are case-sensitive.
      expect(matches({ '#T': ['nostr'] })).to.equal(false)
    })

    it('ANDs fields together', () => {
      expect(matches({ kinds: [1], authors: [PUBKEY], '#t': ['nostr'] })).to.equal(true)
      expect(matches({ kinds: [1], authors: [PUBKEY], '#t': ['dev'] })).to.equal(false)
      expect(matches({ kinds: [1], '#t': ['nostr'], '#e': ['f'.repeat(64)] })).to.equal(false)
    })

    it('ignores limit when matching', () => {
      expect(matches({ limit: 0 })).to.equal(true)
    })
  })
})
