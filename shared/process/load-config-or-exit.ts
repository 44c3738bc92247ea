import type { GatewayConfig } from '../config/gateway-config.js'
import { loadConfig } from '../config/load-config.js'
import type { ConfigProblem } from '../config/load-config.js'
import { GatewayError } from '../errors.js'

/**
 * Loads the config for an entry point. On CONFIG_INVALID prints one line per problem, each
 * starting with its stable code (`SECRET_TOO_SHORT`, `CONFIG_INVALID`), and exits 1. Unknown
 * `GATEWAY_*` variables (typos) are reported on stderr; the logger does not exist yet.
 */
export function loadConfigOrExit(name: string, env: NodeJS.ProcessEnv): GatewayConfig {
  const warn = (message: string) => process.stderr.write(`${name}: warning: ${message}\n`)
  try {
    return loadConfig({ env, warn })
  } catch (err) {
    process.stderr.write(refusalLines(name, err))
    process.exit(1)
  }
}

function refusalLines(name: string, err: unknown): string {
  if (!(err instanceof GatewayError)) return `${name}: ${String(err)}\n`
  const problems = (err.details?.problems ?? []) as ConfigProblem[]
  if (problems.length === 0) return `${name}: ${err.code}: ${err.message}\n`
  const lines = [`${name}: ${err.code}: invalid configuration, not starting`]
  for (const p of problems) lines.push(`${name}: ${p.code}: ${p.message}`)
  return `${lines.join('\n')}\n`
}
