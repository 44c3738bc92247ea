import { expect } from 'chai'
import { ErrorCode } from '../../shared/errors.js'
import { codeForAnswer } from '../../shared/worker/registrar-request-error.js'

describe('codeForAnswer (what a worker makes of a registrar refusal)', () => {
  it('reads a secret the gateway cannot use as its configuration fault, not an outage', () => {
    expect(codeForAnswer(503, 'worker_secret_unreadable')).to.equal(ErrorCode.CONFIG_INVALID)
    expect(codeForAnswer(503, 'not_configured')).to.equal(ErrorCode.CONFIG_INVALID)
    expect(codeForAnswer(503, 'store_unavailable')).to.equal(ErrorCode.STORE_UNAVAILABLE)
    expect(codeForAnswer(503, null)).to.equal(ErrorCode.STORE_UNAVAILABLE)
  })
})
