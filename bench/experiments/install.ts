import { installCorkWrites } from './cork-writes.js'
import { installTextBodies } from './text-body.js'

/** Experiments the bench can apply to its children without editing the gateway. */
export const EXPERIMENTS = ['cork-writes', 'text-body'] as const
export type Experiment = (typeof EXPERIMENTS)[number]

/** Which processes an experiment changes. */
export const EXPERIMENT_SCOPE: Record<Experiment, { proxy: boolean; backend: boolean }> = {
  'cork-writes': { proxy: true, backend: false },
  'text-body': { proxy: true, backend: true },
}

/** Applies the experiment named by BENCH_EXPERIMENT, if any, to this process. */
export async function installExperiment(name: string | undefined): Promise<void> {
  if (name === 'cork-writes') await installCorkWrites()
  else if (name === 'text-body') installTextBodies()
  else if (name !== undefined && name !== '') throw new Error(`unknown experiment ${name}`)
}
