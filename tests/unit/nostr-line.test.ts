import { expect } from 'chai'
import { lineEventId, lineSubscription, lineVerb } from '../../proxy/nostr-line.js'

const ID = 'ab'.repeat(32)

describe('nostr-line', () => {
  it('reads the verb and subscription id of relay messages', () => {
    expect(lineVerb('["EOSE","s1"]')).to.equal('EOSE')
    expect(lineSubscription('["EOSE","s1"]', 'EOSE')).to.equal('s1')
    expect(lineSubscription('["CLOSED","x y",""]', 'CLOSED')).to.equal('x y')
    expect(lineVerb('{"not":"array"}')).to.equal(null)
  })

  it('reads subscription ids with escaped quotes through a full parse', () => {
    const line = JSON.stringify(['EVENT', 'a"b', { id: ID }])
    expect(lineSubscription(line, 'EVENT')).to.equal('a"b')
  })

  it('finds the event id wherever the id key sits, never inside strings', () => {
    const event = { content: '"id":"' + 'cd'.repeat(32) + '"', kind: 1, id: ID }
    expect(lineEventId(JSON.stringify(['EVENT', 's', event]))).to.equal(ID)
    expect(lineEventId('["EVENT","s",{"id":"short"}]')).to.equal(null)
  })
})
