import type { Parameters } from 'fast-check'

/**
 * fast-check settings of one fuzz property: at most FUZZ_RUNS runs (default 300) and
 * FUZZ_SECONDS seconds (default 8), whichever ends first. A failure message carries the seed
 * and path; FUZZ_SEED and FUZZ_PATH replay exactly that case.
 */
export function fuzzBudget<T>(): Parameters<T> {
  const env = process.env
  const runs = Number(env.FUZZ_RUNS ?? 300)
  const seconds = Number(env.FUZZ_SECONDS ?? 8)
  const params: Parameters<T> = {
    numRuns: runs,
    interruptAfterTimeLimit: seconds * 1000,
    // Runs cut short by the time limit are not a failure; the count says how far it got.
    markInterruptAsFailure: false,
    verbose: 1,
  }
  if (env.FUZZ_SEED !== undefined) params.seed = Number(env.FUZZ_SEED)
  if (env.FUZZ_PATH !== undefined) params.path = env.FUZZ_PATH
  return params
}
