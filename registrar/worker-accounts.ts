import type { Logger } from 'pino'
import { isWorkerId, newWorkerId, newWorkerSecret } from '../shared/auth/worker-credentials.js'
import type { WorkerSecretBox } from '../shared/auth/worker-secret-box.js'
import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import type { GatewayStore, WorkerRecord } from '../shared/store/gateway-store.js'
import { HttpError } from './http-error.js'

/** Options of {@link WorkerAccounts}. */
export interface WorkerAccountsOptions {
  store: GatewayStore
  /** Null: no account key is configured, so there are no worker accounts. */
  box: WorkerSecretBox | null
  logger: Logger
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
  readonly #now: () => number

  constructor(options: WorkerAccountsOptions) {
    this.#store = options.store
    this.#box = options.box
    this.#log = options.logger
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
   * `worker_disabled` for a disabled one, 503 `not_configured` without an account key.
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
      // Another key than the one it was sealed with: an operator's mistake, not the worker's.
      this.#log.error({ workerId }, 'a worker secret does not open with GATEWAY_WORKER_SECRET_KEY')
      throw new HttpError(500, RegistrarErrorCode.INTERNAL_ERROR, 'internal error')
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
