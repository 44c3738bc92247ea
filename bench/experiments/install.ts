import { installCorkWrites } from './cork-writes.js'

/** Experiments the bench can apply to its children without editing the gateway. */
export const EXPERIMENTS = ['cork-writes'] as const
export type Experiment = (typeof EXPERIMENTS)[number]

/** Which processes an experiment changes. */
export const EXPERIMENT_SCOPE: Record<Experiment, { proxy: boolean; backend: boolean }> = {
  'cork-writes': { proxy: true, backend: false },
}

/** Applies the experiment named by BENCH_EXPERIMENT, if any, to this process. */
export async function installExperiment(name: string | undefined): Promise<void> {
  if (name === 'cork-writes') await installCorkWrites()
  else if (name !== undefined && name !== '') throw new Error(`unknown experiment ${name}`)
}
