import { expect } from 'chai'
import { loopbackEnv, spawnGateway } from '../helpers/gateway-process.js'

// What an operator sees when a process refuses its configuration (docs/runbook.md and
// .env.example name these codes).
describe('start-up configuration messages', function () {
  this.timeout(20_000)
  const env = { ...loopbackEnv([{ host: '127.0.0.1', port: 1 }]), GATEWAY_LOG_LEVEL: 'warn' }

  async function refusal(entry: string, extra: Record<string, string>): Promise<string> {
    const gw = spawnGateway(entry, { ...env, ...extra })
    const line = await gw.waitForLog((l) => 'exited' in l)
    expect(line.exited, entry).to.equal(1)
    return String(line.stderr)
  }

  for (const entry of ['proxy/main.js', 'registrar/main.js']) {
    it(`${entry} prints SECRET_TOO_SHORT and CONFIG_INVALID with the variables it refuses`, async () => {
      const stderr = await refusal(entry, {
        GATEWAY_REGISTRATION_SECRET: 'change-me',
        GATEWAY_PROXY_MAX_FRAME_BYTES: 'lots',
      })
      expect(stderr).to.match(/: CONFIG_INVALID: invalid configuration/)
      expect(stderr).to.match(/: SECRET_TOO_SHORT: GATEWAY_REGISTRATION_SECRET/)
      expect(stderr).to.match(/: CONFIG_INVALID: GATEWAY_PROXY_MAX_FRAME_BYTES/)
      expect(stderr).to.not.contain('change-me')
    })
  }

  it('warns about a misspelt GATEWAY_* variable on stderr at start-up', async () => {
    const stderr = await refusal('registrar/main.js', {
      GATEWAY_REGISTRATION_SECRET: 'short',
      GATEWAY_REGISTRAR_RATE_LIMT: '10',
    })
    expect(stderr).to.match(
      /registrar: warning: unknown variable GATEWAY_REGISTRAR_RATE_LIMT .*did you mean GATEWAY_REGISTRAR_RATE_LIMIT\?/,
    )
  })
})
