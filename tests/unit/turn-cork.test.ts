import { expect } from 'chai'
import { TurnCork } from '../../shared/protocol/turn-cork.js'

describe('TurnCork', () => {
  it('lets the first send of a turn go alone, corks from the second, uncorks once in the check phase', async () => {
    const log: string[] = []
    const turn = new TurnCork(
      () => log.push('cork'),
      () => log.push('uncork'),
    )
    for (let i = 0; i < 4; i++) {
      turn.sending()
      log.push('send')
    }
    expect(log).to.deep.equal(['send', 'cork', 'send', 'send', 'send'])
    await new Promise((resolve) => setImmediate(resolve))
    expect(log.slice(5)).to.deep.equal(['uncork'])
  })

  it('never corks a turn with one send, and starts afresh on the next turn', async () => {
    const log: string[] = []
    const turn = new TurnCork(
      () => log.push('cork'),
      () => log.push('uncork'),
    )
    turn.sending()
    await new Promise((resolve) => setImmediate(resolve))
    turn.sending()
    turn.sending()
    await new Promise((resolve) => setImmediate(resolve))
    expect(log).to.deep.equal(['cork', 'uncork'])
  })
})
