import { expect } from 'chai'
import { EventEmitter } from 'node:events'
import pino from 'pino'
import { OwnerSessions } from '../../proxy/owner-sessions.js'
import type { OwnedSession, OwnerSessionsOptions } from '../../proxy/owner-sessions.js'
import type { ProxyMetrics } from '../../proxy/proxy-metrics.js'
import type { SessionIdentity } from '../../proxy/session-context.js'

function session(workerId: string | undefined, closed: Array<[string, number]>, name: string) {
  const identity = { registration: { relayKey: name, peers: [], metadata: {}, workerId } }
  return {
    identity: identity as unknown as SessionIdentity,
    close: (code: number) => closed.push([name, code]),
  } satisfies OwnedSession
}

describe('OwnerSessions', () => {
  it("closes every live session of a disabled account with 4403, relayed and tunnelled alike, and nobody else's", () => {
    const closed: Array<[string, number]> = []
    const relayed = [session('A', closed, 'relayed-A'), session('B', closed, 'relayed-B')]
    const tunnelled = [
      session('A', closed, 'tunnel-A'),
      session(undefined, closed, 'tunnel-legacy'),
    ]
    const owners = Object.assign(new EventEmitter(), { secret: () => Promise.resolve(null) })
    let rejected = 0
    const guard = new OwnerSessions({
      owners: owners as unknown as OwnerSessionsOptions['owners'],
      sessions: { list: () => [...relayed, ...tunnelled] },
      metrics: { tokenRejected: () => rejected++ } as unknown as ProxyMetrics,
      logger: pino({ level: 'silent' }),
    })
    guard.start()
    owners.emit('disabled', 'A')
    expect(closed).to.deep.equal([
      ['relayed-A', 4403],
      ['tunnel-A', 4403],
    ])
    expect(rejected).to.equal(2)
    guard.close()
    owners.emit('disabled', 'B')
    expect(closed).to.have.length(2)
    expect(owners.listenerCount('disabled')).to.equal(0)
  })
})
