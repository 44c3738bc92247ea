import { expect } from 'chai'
import { PeerLease } from '../../shared/swarm/peer-lease.js'
import type { PeerConnection } from '../../shared/swarm/peer-connection.js'

describe('PeerLease', () => {
  it('releases once, however often release() is called', () => {
    const leases = new Set<PeerLease>()
    const conn = { key: 'ab' } as PeerConnection
    const lease = new PeerLease(conn, (l) => leases.delete(l))
    leases.add(lease)
    const other = new PeerLease(conn, (l) => leases.delete(l))
    leases.add(other)
    lease.release()
    lease.release()
    expect(lease.released).to.equal(true)
    expect(leases.size).to.equal(1)
    expect([...leases][0]).to.equal(other)
    expect(lease.key).to.equal('ab')
  })
})
