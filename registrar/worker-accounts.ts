import type { Logger } from 'pino'
import { isWorkerId, newWorkerId, newWorkerSecret } from '../shared/auth/worker-credentials.js'
import type { WorkerSecretBox } from '../shared/auth/worker-secret-box.js'
import { wireCode } from '../shared/errors.js'
import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import type { GatewayStore, WorkerRecord } from '../shared/store/gateway-store.js'
import { HttpError } from './http-error.js'
import type { RegistrarMetrics } from './registrar-metrics.js'

/** Options of {@link WorkerAccounts}. */
export interface WorkerAccountsOptions {
  store: GatewayStore
  /** Null: no account key is configured, so there are no worker accounts. */
  box: WorkerSecretBox | null
  logger: Logger
  metrics: Pick<RegistrarMetrics, 'workerSecretsUnreadable'>
  now: () => number
}

/** Longest account name, in characters. */
export const MAX_WORKER_NAME_LENGTH = 64

/**
 * The registrar's worker accounts (docs/registrar.md, tenancy): creating one mints its secret
 * and stores it sealed; signed requests naming a `workerId` are checked with that secret.
 */
export class WorkerAccounts {
  readonly #store: GatewayStore
  readonly #box: WorkerSecretBox | null
  readonly #log: Logger
  readonly #metrics: Pick<RegistrarMetrics, 'workerSecretsUnreadable'>
  readonly #now: () => number

  constructor(options: WorkerAccountsOptions) {
    this.#store = options.store
    this.#box = options.box
    this.#log = options.logger
    this.#metrics = options.metrics
    this.#now = options.now
  }

  /** True when an account key is configured. */
  get enabled(): boolean {
    return this.#box !== null
  }

  /** A new account and its secret; the secret exists nowhere else in the clear. */
  async create(name: string): Promise<{ record: WorkerRecord; secret: string }> {
    const box = this.#requireBox()
    const workerId = newWorkerId()
    const secret = newWorkerSecret()
    const record: WorkerRecord = {
      workerId,
      name,
      createdAt: this.#now(),
      disabledAt: null,
      sealedSecret: box.seal(workerId, secret),
    }
    await this.#store.createWorker(record)
    return { record, secret }
  }

  /**
   * The signing secret of an active account: 401 `worker_unknown` for no such account, 403
   * `worker_disabled` for a disabled one, 503 `not_configured` without an account key, 503
   * `worker_secret_unreadable` when the stored secret does not open with the account key.
   */
  async secretOf(workerId: string): Promise<string> {
    const box = this.#requireBox()
    const record = isWorkerId(workerId) ? await this.#store.getWorker(workerId) : null
    if (record === null) {
      throw new HttpError(401, RegistrarErrorCode.WORKER_UNKNOWN, 'no such worker account')
    }
    if (record.disabledAt !== null || record.sealedSecret === null) {
      throw new HttpError(403, RegistrarErrorCode.WORKER_DISABLED, 'the worker account is disabled')
    }
    const secret = box.open(workerId, record.sealedSecret)
    if (secret === null) {
      // Another key than the one it was sealed with: an operator's mistake, not the worker's, so
      // no 4xx that would send the worker's operator after its own secret. 503: nothing is wrong
      // with the request, and the worker's retries succeed once the key is put right.
      const code = RegistrarErrorCode.WORKER_SECRET_UNREADABLE
      this.#metrics.workerSecretsUnreadable.inc()
      this.#log.error(
        { workerId, code: wireCode(code) },
        'a worker account secret does not open with GATEWAY_WORKER_SECRET_KEY: the key differs from the one it was sealed with',
      )
      throw new HttpError(
        503,
        code,
        "the gateway cannot read this worker account's secret (its account key changed); the gateway operator must fix it",
      )
    }
    return secret
  }

  #requireBox(): WorkerSecretBox {
    if (this.#box !== null) return this.#box
    throw new HttpError(
      503,
      RegistrarErrorCode.NOT_CONFIGURED,
      'worker accounts are not configured on this gateway (GATEWAY_WORKER_SECRET_KEY)',
    )
  }
}
