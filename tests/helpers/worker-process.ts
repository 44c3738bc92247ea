import type { BootstrapNode } from '../../shared/swarm/create-swarm.js'
import { spawnFirstLineChild } from './first-line-child.js'
import type { FirstLineChild } from './first-line-child.js'
import { LOOPBACK } from './testnet.js'

const MAIN = new URL('../../scripts/worker.js', import.meta.url)

/** `npm run worker` as a child process on the loopback testnet. */
export interface WorkerProcess extends Omit<FirstLineChild, 'firstLine'> {
  publicKey: string
}

export async function spawnWorker(
  bootstrap: BootstrapNode[],
  env: Record<string, string> = {},
): Promise<WorkerProcess> {
  const { firstLine, ...proc } = await spawnFirstLineChild(
    MAIN,
    {
      GATEWAY_HYPERSWARM_BOOTSTRAP: bootstrap.map((n) => `${n.host}:${n.port}`).join(','),
      GATEWAY_HYPERSWARM_HOST: LOOPBACK,
      GATEWAY_LOG_LEVEL: 'warn',
      ...env,
    },
    'worker',
  )
  if (!/^[0-9a-f]{64}$/.test(firstLine)) throw new Error(`unexpected first line: ${firstLine}`)
  return { ...proc, publicKey: firstLine }
}
