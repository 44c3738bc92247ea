import { AdminClient, relaySegment } from './admin-client.js'
import { usageError } from './cli-error.js'
import type { Command, CommandContext } from './command.js'
import { intFlag, stringFlag } from './command.js'
import { GATEWAY_HELP, GATEWAY_OPTIONS, adminToken, gatewayUrl } from './gateway-options.js'
import { table } from './output.js'

interface Summary {
  relayKey: string
  gatewayPath: string | null
  name: string | null
  peers: number
  readyPeers: number
  sessions: number
  expiresAt: number
}

interface ListPage {
  total: number
  relays: Summary[]
  nextCursor: string | null
}

interface Detail {
  registration: { relayKey: string; peers: string[]; metadata: Record<string, unknown> }
  ttlMs: number
  peers: Array<{
    key: string
    reachable: boolean
    proxies: Array<{ proxyId: string; state: string; sessions: number; latencyMs: number | null }>
  }>
  sessions: { total: number; byProxy: Record<string, number> }
  usage: Record<string, number>
  tokens: { seq: number; minSeq: number; revokedAt: number }
}

const short = (key: string) => (key.length > 20 ? `${key.slice(0, 16)}…` : key)

/** `hypertuna-gateway relay list|show|remove`. */
export const relayCommand: Command = {
  name: 'relay',
  summary: 'List the relays registered on a gateway, show one, remove one, or release one.',
  help: `Usage:
  hypertuna-gateway relay list --gateway <url> [--limit <n>] [--cursor <key>] [--all]
  hypertuna-gateway relay show <relay> --gateway <url>
  hypertuna-gateway relay remove <relay> --gateway <url>
  hypertuna-gateway relay release <relay> --gateway <url>

<relay> is a relay key or its gatewayPath alias. show lists the relay's workers with the link
state each proxy reports, its live sessions and usage. remove drops the registration (an owned
relay stays its worker account's); release takes the relay from its owner, registration and
all, so that the next registrant owns it.

Options:
${GATEWAY_HELP}
  --limit <n>             relays per page (list; default 50, at most 500)
  --cursor <key>          start after this relay key (list; from nextCursor)
  --all                   follow every page (list)`,
  options: {
    ...GATEWAY_OPTIONS,
    limit: { type: 'string' },
    cursor: { type: 'string' },
    all: { type: 'boolean', default: false },
  },
  async run(context: CommandContext) {
    const [action, relay, ...rest] = context.positionals
    if (action !== 'list' && action !== 'show' && action !== 'remove' && action !== 'release') {
      throw usageError('relay: the first argument must be list, show, remove or release')
    }
    const gateway = gatewayUrl(context.values, `relay ${action}`)
    if (action === 'list') {
      if (relay !== undefined) throw usageError('relay list: takes no <relay>')
      return list(context, new AdminClient({ gateway, token: adminToken(context) }))
    }
    if (relay === undefined || rest.length > 0)
      throw usageError(`relay ${action}: give one <relay>`)
    const admin = new AdminClient({ gateway, token: adminToken(context) })
    if (action === 'release') {
      const released = await admin.post<{ relayKey: string; workerId: string }>(
        `/relays/${relaySegment(relay)}/release`,
      )
      context.out.result(
        { ok: true, relayKey: released.relayKey, workerId: released.workerId },
        `released ${released.relayKey} from worker ${released.workerId}`,
      )
      return
    }
    if (action === 'remove') {
      const removed = await admin.delete<{ relayKey: string }>(`/relays/${relaySegment(relay)}`)
      context.out.result(
        { ok: true, relayKey: removed.relayKey, removed: true },
        `removed ${removed.relayKey}`,
      )
      return
    }
    const detail = await admin.get<Detail>(`/relays/${relaySegment(relay)}`)
    const { registration } = detail
    const lines = [
      `relay     ${registration.relayKey}`,
      `name      ${String(registration.metadata.name ?? '-')}`,
      `path      ${String(registration.metadata.gatewayPath ?? '-')}`,
      `expires   in ${Math.round(detail.ttlMs / 1000)} s`,
      `sessions  ${detail.sessions.total}`,
      `usage     ${
        Object.entries(detail.usage)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ') || '-'
      }`,
      `tokens    issued ${detail.tokens.seq}, valid from seq ${detail.tokens.minSeq}`,
      '',
      table([
        ['WORKER', 'REACHABLE', 'PROXY', 'STATE', 'SESSIONS', 'RTT'],
        ...detail.peers.flatMap((p) =>
          p.proxies.length === 0
            ? [[short(p.key), 'no', '-', 'not dialled', '0', '-']]
            : p.proxies.map((v) => [
                short(p.key),
                p.reachable ? 'yes' : 'no',
                short(v.proxyId),
                v.state,
                String(v.sessions),
                v.latencyMs === null ? '-' : `${v.latencyMs} ms`,
              ]),
        ),
      ]),
    ]
    context.out.result({ ok: true, ...detail }, lines.join('\n'))
  },
}

async function list(context: CommandContext, admin: AdminClient): Promise<void> {
  const limit = intFlag(context.values, 'limit')
  let cursor = stringFlag(context.values, 'cursor')
  const relays: Summary[] = []
  let total: number
  let nextCursor: string | null
  do {
    const query = new URLSearchParams()
    if (limit !== undefined) query.set('limit', String(limit))
    if (cursor !== undefined) query.set('cursor', cursor)
    const q = query.toString()
    const page = await admin.get<ListPage>(`/relays${q === '' ? '' : `?${q}`}`)
    relays.push(...page.relays)
    total = page.total
    nextCursor = page.nextCursor
    cursor = nextCursor ?? undefined
  } while (context.values.all === true && nextCursor !== null)
  const human =
    relays.length === 0
      ? 'no relays registered'
      : table([
          ['RELAY', 'PATH', 'NAME', 'WORKERS', 'SESSIONS'],
          ...relays.map((r) => [
            r.relayKey,
            r.gatewayPath ?? '-',
            r.name ?? '-',
            `${r.readyPeers}/${r.peers} ready`,
            String(r.sessions),
          ]),
        ]) + (nextCursor === null ? '' : `\nmore: --cursor ${nextCursor}`)
  context.out.result({ ok: true, total, relays, nextCursor }, human)
}
