import { expect } from 'chai'
import { batchLength, ORDERED_PIPELINE_DEPTH, pipelinePolicy } from '../../proxy/batch-plan.js'

const q = (...messages: unknown[][]) => messages.map((message) => ({ message }))
const legacy = { depth: 8, ordered: false }
const ordered = { depth: 16, ordered: true }

describe('batch plan (pipelining to workers)', () => {
  it('never puts two messages on one subscription id in flight together', () => {
    const queue = q(['REQ', 'a', {}], ['REQ', 'b', {}], ['CLOSE', 'a'], ['REQ', 'c', {}])
    expect(batchLength(queue, legacy)).to.equal(2)
    expect(batchLength(queue, ordered)).to.equal(2)
  })

  it('keeps a REQ behind an EVENT out of a legacy batch, not out of an ordered one', () => {
    const queue = q(['EVENT', { id: '1' }], ['EVENT', { id: '2' }], ['REQ', 'a', {}])
    expect(batchLength(queue, legacy)).to.equal(2)
    expect(batchLength(queue, ordered)).to.equal(3)
    // A REQ ahead of the EVENT may share the batch.
    expect(batchLength(q(['REQ', 'a', {}], ['EVENT', {}], ['CLOSE', 'b']), legacy)).to.equal(3)
  })

  it('stops at the depth and always lets the head go', () => {
    const many = q(...Array.from({ length: 30 }, (_, i) => ['REQ', `s${i}`, {}]))
    expect(batchLength(many, legacy)).to.equal(8)
    expect(batchLength(many, { depth: 1, ordered: false })).to.equal(1)
    expect(batchLength([], legacy)).to.equal(0)
  })

  it('turns legacy pipelining off per relay, by key or public identifier', () => {
    const opts = { depth: 8, offRelays: new Set(['k2', 'npub1x:name']) }
    expect(pipelinePolicy(false, { relayKey: 'k1' }, opts)).to.deep.equal(legacy)
    expect(pipelinePolicy(false, { relayKey: 'k2' }, opts).depth).to.equal(1)
    const alias = { relayKey: 'k3', gatewayPath: 'npub1x:name' }
    expect(pipelinePolicy(false, alias, opts).depth).to.equal(1)
    expect(pipelinePolicy(true, { relayKey: 'k2' }, opts)).to.deep.equal({
      depth: ORDERED_PIPELINE_DEPTH,
      ordered: true,
    })
    expect(pipelinePolicy(false, { relayKey: 'k1' }, { ...opts, depth: 1 }).depth).to.equal(1)
  })
})
