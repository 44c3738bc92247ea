import { expect } from 'chai'
import { WorkerSecretBox } from '../../shared/auth/worker-secret-box.js'
import { loadConfig } from '../../shared/config/load-config.js'
import { proxyServerOptions } from '../../proxy/proxy-options.js'

const SECRET = 'proxy-options-secret-0123456789'
const KEY = '7'.repeat(64)

describe('proxyServerOptions: worker accounts and the shared secret', () => {
  it('keeps the shared secret and leaves worker accounts off by default', () => {
    const config = loadConfig({ env: { GATEWAY_REGISTRATION_SECRET: SECRET } })
    const opts = proxyServerOptions(config)
    expect(opts.secret).to.equal(SECRET)
    expect(opts.workerSecrets).to.equal(null)
  })

  it('opens sealed worker secrets with GATEWAY_WORKER_SECRET_KEY', () => {
    const config = loadConfig({
      env: { GATEWAY_REGISTRATION_SECRET: SECRET, GATEWAY_WORKER_SECRET_KEY: KEY },
    })
    const sealed = new WorkerSecretBox(KEY).seal('a'.repeat(32), 'f'.repeat(64))
    expect(proxyServerOptions(config).workerSecrets?.open('a'.repeat(32), sealed)).to.equal(
      'f'.repeat(64),
    )
  })

  it('drops the shared secret in multi-tenant mode', () => {
    const config = loadConfig({
      env: {
        GATEWAY_REGISTRATION_SECRET: SECRET,
        GATEWAY_WORKER_SECRET_KEY: KEY,
        GATEWAY_MULTI_TENANT: 'true',
      },
    })
    expect(proxyServerOptions(config).secret).to.equal('')
  })
})
