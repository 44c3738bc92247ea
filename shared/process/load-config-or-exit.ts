import type { GatewayConfig } from '../config/gateway-config.js'
import { loadConfig } from '../config/load-config.js'

/** Loads the config for an entry point; on CONFIG_INVALID prints the message and exits 1. */
export function loadConfigOrExit(name: string, env: NodeJS.ProcessEnv): GatewayConfig {
  try {
    return loadConfig({ env })
  } catch (err) {
    process.stderr.write(`${name}: ${(err as Error).message}\n`)
    process.exit(1)
  }
}
