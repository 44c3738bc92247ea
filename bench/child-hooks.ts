// Preloaded into each proxy child with `node --expose-gc --import <this file>`, so the bench can
// measure a stock entry point (dist/scripts/start.js) without a debug hook in production code.
import { installExperiment } from './experiments/install.js'
import { isGcRequest } from './ipc-messages.js'
import type { MemoryReport } from './ipc-messages.js'

const gc = (globalThis as { gc?: () => void }).gc

process.on('message', (m: unknown) => {
  if (!isGcRequest(m)) return
  // Two passes: the first can leave weakly held and finalizer-bound objects for the second.
  gc?.()
  gc?.()
  const usage = process.memoryUsage()
  const report: MemoryReport = { type: 'memory', gc: gc !== undefined, ...usage }
  process.send?.(report)
})

// The bench is gone (it was killed: a normal end stops us first). Die at once: a graceful stop
// ends in pino flushing its buffer to a stdout nobody reads any more, and sonic-boom retries
// that EPIPE forever, wedging the process. A bench that died while this process was still
// loading closed the channel before anyone listened, hence the check of `connected` too.
const orphaned = () => process.kill(process.pid, 'SIGKILL')
process.on('disconnect', orphaned)
if (process.send !== undefined && !process.connected) orphaned()

// Opt-in changes to try without editing the gateway (npm run bench -- --experiment=NAME).
await installExperiment(process.env.BENCH_EXPERIMENT)
