import type { BootstrapNode } from '../../shared/swarm/create-swarm.js'
import { spawnFirstLineChild } from './first-line-child.js'
import type { FirstLineChild } from './first-line-child.js'

const MAIN = new URL('./drive-worker-main.js', import.meta.url)

/**
 * A tunnel-mode worker process serving `/drive/<relayKey>/<file>` from a directory, and with
 * `ws` the relay's WebSocket too.
 */
export interface DriveWorker extends Omit<FirstLineChild, 'firstLine'> {
  publicKey: string
  relayKey: string
}

export async function spawnDriveWorker(
  bootstrap: readonly BootstrapNode[],
  dir: string,
  relayKey?: string,
  opts: { ws?: boolean } = {},
): Promise<DriveWorker> {
  const { firstLine, ...proc } = await spawnFirstLineChild(
    MAIN,
    {
      DRIVE_WORKER_DIR: dir,
      DRIVE_WORKER_BOOTSTRAP: bootstrap.map((n) => `${n.host}:${n.port}`).join(','),
      ...(relayKey === undefined ? {} : { DRIVE_WORKER_RELAY_KEY: relayKey }),
      ...(opts.ws === true ? { DRIVE_WORKER_WS: '1' } : {}),
    },
    'drive worker',
  )
  const [publicKey, key] = firstLine.split(' ')
  if (!/^[0-9a-f]{64}$/.test(publicKey ?? '') || !/^[0-9a-f]{64}$/.test(key ?? '')) {
    throw new Error(`unexpected first line: ${firstLine}`)
  }
  return { ...proc, publicKey: publicKey as string, relayKey: key as string }
}
