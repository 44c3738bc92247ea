import type { FastifyInstance, FastifyRequest } from 'fastify'
import { isWorkerId } from '../shared/auth/worker-credentials.js'
import { RegistrarErrorCode } from '../shared/registrar-api/registrar-error-code.js'
import type { WorkerRecord } from '../shared/store/gateway-store.js'
import { HttpError } from './http-error.js'
import { parseWith } from './route-context.js'
import type { RouteContext } from './route-context.js'
import { isRelayKey, workerCreateSchema } from './schemas.js'

type WorkerRequest = FastifyRequest<{ Params: { workerId: string } }>
type RelayRequest = FastifyRequest<{ Params: { relayKey: string } }>

/** A worker account as the admin API shows it: never its secret, sealed or not. */
export interface WorkerView {
  workerId: string
  name: string
  status: 'active' | 'disabled'
  createdAt: number
  disabledAt: number | null
  /** Relay keys it owns, registered or not. */
  relays: string[]
}

/**
 * The admin API's worker accounts (docs/registrar.md, tenancy): create (the secret is in this
 * one answer and nowhere else), list, disable, and the release of an owned relay. Registered
 * inside the admin scope, so the Bearer check and the audit line apply.
 */
export function registerAdminWorkerRoutes(admin: FastifyInstance, context: RouteContext): void {
  const { store, accounts } = context

  admin.post('/workers', async (request, reply) => {
    const { name } = parseWith(workerCreateSchema, request.body ?? {})
    const { record, secret } = await accounts.create(name)
    request.log.info({ workerId: record.workerId, decision: 'accepted' }, 'worker account created')
    reply.code(201)
    return { status: 'ok', workerId: record.workerId, secret, name, createdAt: record.createdAt }
  })

  admin.get('/workers', async () => {
    const records = await store.listWorkers()
    records.sort((a, b) => a.createdAt - b.createdAt || a.workerId.localeCompare(b.workerId))
    const workers = await Promise.all(records.map((r) => viewOf(context, r)))
    return { status: 'ok', workers }
  })

  admin.delete('/workers/:workerId', async (request: WorkerRequest) => {
    const { workerId } = request.params
    const result = isWorkerId(workerId) ? await store.disableWorker(workerId, context.now()) : null
    if (result === null) throw workerNotFound()
    request.log.info(
      { workerId, removed: result.removed.length, decision: 'accepted' },
      'worker account disabled',
    )
    return {
      status: 'ok',
      workerId,
      disabledAt: result.worker.disabledAt,
      removed: result.removed,
    }
  })

  admin.post('/relays/:relayKey/release', async (request: RelayRequest) => {
    const id = request.params.relayKey
    // By relay key, or by the alias of a live registration.
    const relayKey = isRelayKey(id) ? id : (await store.resolveRelay(id))?.relayKey
    const released = relayKey === undefined ? null : await store.releaseRelay(relayKey)
    if (released === null) {
      throw new HttpError(
        404,
        RegistrarErrorCode.RELAY_NOT_FOUND,
        'no worker account owns this relay',
      )
    }
    request.log.info(
      { relayKey: released.relayKey, workerId: released.workerId, decision: 'accepted' },
      'relay released',
    )
    return { status: 'ok', relayKey: released.relayKey, workerId: released.workerId }
  })
}

async function viewOf(context: RouteContext, record: WorkerRecord): Promise<WorkerView> {
  return {
    workerId: record.workerId,
    name: record.name,
    status: record.disabledAt === null ? 'active' : 'disabled',
    createdAt: record.createdAt,
    disabledAt: record.disabledAt,
    relays: await context.store.listWorkerRelays(record.workerId),
  }
}

function workerNotFound(): HttpError {
  return new HttpError(404, RegistrarErrorCode.WORKER_UNKNOWN, 'no such worker account')
}
