import { expect } from 'chai'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { ManualClock, startRegistrar } from '../helpers/registrar-harness.js'
import { call } from '../helpers/registrar-suite.js'

describe('registrar request log', () => {
  it('carries the status code of every completed request', async () => {
    const h = startRegistrar({ store: new MemoryStore(), clock: new ManualClock() })
    try {
      await call(h, { method: 'GET', url: '/health' })
      await call(h, { method: 'GET', url: '/no-such-route' })
      const completed = h.sink.lines().filter((l) => l.msg === 'request completed')
      const codes = completed.map((l) => (l.res as { statusCode?: unknown }).statusCode)
      expect(codes).to.deep.equal([200, 404])
    } finally {
      await h.close()
    }
  })
})
