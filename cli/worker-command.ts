import { writeFileSync } from 'node:fs'
import { AdminClient } from './admin-client.js'
import { CliError, ExitCode, usageError } from './cli-error.js'
import type { Command, CommandContext } from './command.js'
import { stringFlag } from './command.js'
import { GATEWAY_HELP, GATEWAY_OPTIONS, adminToken, gatewayUrl } from './gateway-options.js'
import { table } from './output.js'

interface Created {
  workerId: string
  secret: string
  name: string
  createdAt: number
}

interface WorkerView {
  workerId: string
  name: string
  status: 'active' | 'disabled'
  createdAt: number
  disabledAt: number | null
  relays: string[]
}

/** `hypertuna-gateway worker create|list|disable`. */
export const workerCommand: Command = {
  name: 'worker',
  summary: 'Manage worker accounts: create one (its secret shown once), list them, disable one.',
  help: `Usage:
  hypertuna-gateway worker create <name> --gateway <url> [--secret-out <file>]
  hypertuna-gateway worker list --gateway <url>
  hypertuna-gateway worker disable <workerId> --gateway <url>

A worker account signs its registrations and tokens with its own secret, and the relays it
registers first are its own (docs/registrar.md, tenancy). create prints the workerId and the
secret; the gateway keeps the secret only sealed and never shows it again. disable is final:
the account's relays stop resolving, its tokens stop working, and its relay keys stay reserved
to it until an admin releases them (relay release).

Options:
${GATEWAY_HELP}
  --secret-out <file>     create: write the secret to this new file (mode 600) instead of stdout`,
  options: { ...GATEWAY_OPTIONS, 'secret-out': { type: 'string' } },
  async run(context: CommandContext) {
    const [action, arg, ...rest] = context.positionals
    if (action !== 'create' && action !== 'list' && action !== 'disable') {
      throw usageError('worker: the first argument must be create, list or disable')
    }
    const gateway = gatewayUrl(context.values, `worker ${action}`)
    const admin = new AdminClient({ gateway, token: adminToken(context) })
    if (action === 'list') {
      if (arg !== undefined) throw usageError('worker list: takes no argument')
      await list(context, admin)
      return
    }
    if (arg === undefined || rest.length > 0) {
      throw usageError(`worker ${action}: give one <${action === 'create' ? 'name' : 'workerId'}>`)
    }
    if (action === 'create') await create(context, admin, arg)
    else await disable(context, admin, arg)
  },
}

async function create(context: CommandContext, admin: AdminClient, name: string): Promise<void> {
  const secretOut = stringFlag(context.values, 'secret-out')
  const created = await admin.post<Created>('/workers', { name })
  if (secretOut !== undefined) {
    try {
      // `wx`: never overwrite a file someone else may rely on.
      writeFileSync(secretOut, `${created.secret}\n`, { mode: 0o600, flag: 'wx' })
    } catch (err) {
      throw new CliError(
        ExitCode.FAILURE,
        'secret_out_unwritable',
        `cannot write the secret of worker ${created.workerId} to ${secretOut}: ${(err as Error).message}; ` +
          'the account exists: disable it and create another',
      )
    }
    context.out.result(
      { ok: true, workerId: created.workerId, name: created.name, secretFile: secretOut },
      `workerId  ${created.workerId}\nsecret    written to ${secretOut}`,
    )
    return
  }
  context.out.result(
    { ok: true, workerId: created.workerId, name: created.name, secret: created.secret },
    `workerId  ${created.workerId}\nsecret    ${created.secret}\n` +
      '(shown once: give both to the worker; the gateway cannot show the secret again)',
  )
}

async function list(context: CommandContext, admin: AdminClient): Promise<void> {
  const { workers } = await admin.get<{ workers: WorkerView[] }>('/workers')
  context.out.result(
    { ok: true, workers },
    workers.length === 0
      ? 'no worker accounts'
      : table([
          ['WORKER', 'NAME', 'STATUS', 'RELAYS', 'CREATED'],
          ...workers.map((w) => [
            w.workerId,
            w.name,
            w.status,
            String(w.relays.length),
            new Date(w.createdAt).toISOString(),
          ]),
        ]),
  )
}

async function disable(context: CommandContext, admin: AdminClient, id: string): Promise<void> {
  const done = await admin.delete<{ workerId: string; disabledAt: number; removed: string[] }>(
    `/workers/${encodeURIComponent(id)}`,
  )
  context.out.result(
    { ok: true, workerId: done.workerId, disabledAt: done.disabledAt, removed: done.removed },
    `disabled ${done.workerId}; ${done.removed.length} registration(s) removed`,
  )
}
