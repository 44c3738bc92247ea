import { expect } from 'chai'
import { judgeReachability, natType } from '../../shared/swarm/reachability.js'
import type { ReachabilityObservations } from '../../shared/swarm/reachability.js'

const published: ReachabilityObservations = {
  claimed: true,
  configuredPort: 49737,
  localHost: '10.0.0.2',
  localPort: 49737,
  publicHost: '198.18.1.1',
  publicPort: 49737,
  dhtFirewalled: false,
  probeReached: true,
}

describe('reachability check', () => {
  it('classifies the NAT from observed and bound addresses', () => {
    expect(
      natType({ localHost: '10.0.0.2', localPort: 1, publicHost: null, publicPort: 0 }),
    ).to.equal('unknown')
    expect(
      natType({ localHost: '10.0.0.2', localPort: 1, publicHost: '198.18.1.1', publicPort: 0 }),
    ).to.equal('random')
    expect(
      natType({ localHost: '198.18.1.1', localPort: 5, publicHost: '198.18.1.1', publicPort: 5 }),
    ).to.equal('open')
    expect(
      natType({ localHost: '10.0.0.2', localPort: 5, publicHost: '198.18.1.1', publicPort: 5 }),
    ).to.equal('consistent')
  })

  it('verifies a claim whose port is published and probed', () => {
    const r = judgeReachability(published)
    expect(r).to.include({ claimed: true, verified: true, firewalled: false, problem: null })
    expect(r.natType).to.equal('consistent')
  })

  it('refuses every claim that cannot hold and falls back to firewalled', () => {
    const cases: Partial<ReachabilityObservations>[] = [
      { configuredPort: 0 },
      { publicHost: null },
      { publicPort: 0 },
      { publicPort: 40000 },
      { probeReached: false },
      { probeReached: null },
    ]
    for (const change of cases) {
      const r = judgeReachability({ ...published, ...change })
      expect(r.verified, JSON.stringify(change)).to.equal(false)
      expect(r.firewalled, JSON.stringify(change)).to.equal(true)
      expect(r.problem, JSON.stringify(change)).to.be.a('string')
    }
  })

  it("without a claim reports the DHT's own view and no problem", () => {
    const r = judgeReachability({
      ...published,
      claimed: false,
      dhtFirewalled: true,
      probeReached: null,
    })
    expect(r).to.include({ claimed: false, verified: false, firewalled: true, problem: null })
  })
})
