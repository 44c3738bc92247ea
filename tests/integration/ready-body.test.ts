import { expect } from 'chai'
import { MemoryStore } from '../../shared/store/memory-store.js'
import { ManualClock, startRegistrar } from '../helpers/registrar-harness.js'
import { call } from '../helpers/registrar-suite.js'

// The proxy's /ready body is asserted in proxy-http.test.ts; both processes answer one shape.
describe('registrar /ready body', () => {
  it('is { status, store } when ready and adds a code and error when not', async () => {
    const h = startRegistrar({ store: new MemoryStore(), clock: new ManualClock() })
    try {
      const ready = await call(h, { method: 'GET', url: '/ready' })
      expect(ready.status).to.equal(200)
      expect(ready.body).to.deep.equal({ status: 'ready', store: 'ok' })
      await h.store.close()
      const gone = await call(h, { method: 'GET', url: '/ready' })
      expect(gone.status).to.equal(503)
      expect(gone.body).to.include({
        status: 'not ready',
        store: 'unreachable',
        code: 'store_unavailable',
      })
      expect(Object.keys(gone.body).sort()).to.deep.equal(['code', 'error', 'status', 'store'])
    } finally {
      await h.close()
    }
  })
})
