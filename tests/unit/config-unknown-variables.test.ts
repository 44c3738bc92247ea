import { expect } from 'chai'
import { loadConfig, unknownVariableWarnings } from '../../shared/config/load-config.js'
import type { ConfigEnv } from '../../shared/config/load-config.js'
import { EDGE_VARIABLES } from '../../shared/config/edge-variables.js'
import { configEntries, gatewayConfigSchema } from '../../shared/config/schema.js'

function warningsOf(env: ConfigEnv): string[] {
  const told: string[] = []
  loadConfig({ env, warn: (message) => told.push(message) })
  return told
}

describe('loadConfig: unknown GATEWAY_* variables', () => {
  it('warns once per unknown name, suggesting the setting it is a typo of', () => {
    const told = warningsOf({ GATEWAY_PROXY_PORTT: '9000', GATEWAY_LOG_LEVLE: 'debug' })
    expect(told).to.have.length(2)
    expect(told[0]).to.contain('GATEWAY_LOG_LEVLE').and.contain('did you mean GATEWAY_LOG_LEVEL?')
    expect(told[1]).to.contain('GATEWAY_PROXY_PORTT').and.contain('GATEWAY_PROXY_PORT?')
  })

  it('names no setting when none is close, and never echoes the value', () => {
    const told = warningsOf({ GATEWAY_SOMETHING_ELSE_ENTIRELY: 'sekrit-value' })
    expect(told).to.have.length(1)
    expect(told[0]).to.contain('GATEWAY_SOMETHING_ELSE_ENTIRELY').and.not.contain('did you mean')
    expect(told.join('\n')).to.not.contain('sekrit-value')
  })

  it('is silent for every setting, GATEWAY_CONFIG, the edge variables and other prefixes', () => {
    const env: Record<string, string> = { GATEWAY_CONFIG: '', PATH: '/bin', CADDY_IPV4: 'x' }
    for (const entry of configEntries(gatewayConfigSchema)) {
      if (entry.env !== undefined) env[entry.env] = String(entry.default ?? '')
    }
    for (const name of EDGE_VARIABLES) env[name] = 'x'
    expect(unknownVariableWarnings(env)).to.deep.equal([])
  })

  it('still loads: an unknown name changes nothing', () => {
    const config = loadConfig({ env: { GATEWAY_PROXY_PORTT: '9000' }, warn: () => {} })
    expect(config.proxy.port).to.equal(8080)
  })
})
