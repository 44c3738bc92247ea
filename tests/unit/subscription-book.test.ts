import { expect } from 'chai'
import { SubscriptionBook } from '../../proxy/subscription-book.js'

const id = (n: number) => n.toString(16).padStart(64, '0')
const event = (sub: string, n: number) => JSON.stringify(['EVENT', sub, { id: id(n), kind: 1 }])

describe('SubscriptionBook', () => {
  it('remembers REQ texts for replay and forgets CLOSEd ones', () => {
    const book = new SubscriptionBook()
    const req = '["REQ","a",{"kinds":[1]}]'
    book.track(JSON.parse(req) as unknown[], req)
    book.track(['REQ', 'b', {}], '["REQ","b",{}]')
    book.track(['CLOSE', 'b'], '["CLOSE","b"]')
    expect(book.ids()).to.deep.equal(['a'])
    expect(book.replays()).to.deep.equal([req])
  })

  it('drops events already delivered and a second EOSE, per subscription', () => {
    const book = new SubscriptionBook()
    book.track(['REQ', 'a', {}], '["REQ","a",{}]')
    book.track(['REQ', 'b', {}], '["REQ","b",{}]')
    expect(book.admit(event('a', 1))).to.equal(true)
    expect(book.admit('["EOSE","a"]')).to.equal(true)
    expect(book.admit(event('a', 1))).to.equal(false)
    expect(book.admit('["EOSE","a"]')).to.equal(false)
    expect(book.admit(event('b', 1))).to.equal(true)
    expect(book.admit('["NOTICE","x"]')).to.equal(true)
    expect(book.admit(event('unknown', 1))).to.equal(true)
  })

  it('a CLOSED from the relay ends the subscription', () => {
    const book = new SubscriptionBook()
    book.track(['REQ', 'a', {}], '["REQ","a",{}]')
    expect(book.admit('["CLOSED","a","error: too many"]')).to.equal(true)
    expect(book.size).to.equal(0)
  })

  it('drops late events of a subscription closed here, by the client or the relay', () => {
    const book = new SubscriptionBook()
    book.track(['REQ', 'a', {}], '["REQ","a",{}]')
    book.track(['REQ', 'b', {}], '["REQ","b",{}]')
    book.track(['CLOSE', 'a'], '["CLOSE","a"]')
    expect(book.admit(event('a', 1))).to.equal(false)
    expect(book.admit('["CLOSED","b","error: gone"]')).to.equal(true)
    expect(book.admit(event('b', 2))).to.equal(false)
    // Reopened: its events are wanted again.
    book.track(['REQ', 'a', {}], '["REQ","a",{}]')
    expect(book.admit(event('a', 1))).to.equal(true)
  })

  it('keeps a bounded window of delivered ids', () => {
    const book = new SubscriptionBook()
    book.track(['REQ', 'a', {}], '["REQ","a",{}]')
    for (let n = 0; n < 300; n++) expect(book.admit(event('a', n))).to.equal(true)
    // The oldest ids fell out of the window; the newest are still recognised.
    expect(book.admit(event('a', 0))).to.equal(true)
    expect(book.admit(event('a', 299))).to.equal(false)
  })
})
