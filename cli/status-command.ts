import { AdminClient } from './admin-client.js'
import type { Command, CommandContext } from './command.js'
import { GATEWAY_HELP, GATEWAY_OPTIONS, adminToken, gatewayUrl } from './gateway-options.js'
import { table } from './output.js'

interface Status {
  relays: number
  sessions: number
  proxies: Array<{
    proxyId: string
    reportedAt: number
    sessions: number
    peers: Record<string, number>
  }>
}

/** `hypertuna-gateway status`. */
export const statusCommand: Command = {
  name: 'status',
  summary: "A gateway's relays, live sessions and proxies, from its admin API.",
  help: `Usage:
  hypertuna-gateway status --gateway <url>

Options:
${GATEWAY_HELP}`,
  options: { ...GATEWAY_OPTIONS },
  async run(context: CommandContext) {
    const gateway = gatewayUrl(context.values, 'status')
    const admin = new AdminClient({ gateway, token: adminToken(context) })
    const status = await admin.get<Status>('/status')
    const lines = [
      `gateway   ${gateway}`,
      `relays    ${status.relays}`,
      `sessions  ${status.sessions}`,
      `proxies   ${status.proxies.length}`,
    ]
    if (status.proxies.length > 0) {
      lines.push(
        '',
        table([
          ['PROXY', 'SESSIONS', 'WORKER LINKS', 'REPORTED'],
          ...status.proxies.map((p) => [
            p.proxyId.slice(0, 16),
            String(p.sessions),
            Object.entries(p.peers)
              .map(([state, n]) => `${n} ${state}`)
              .join(', ') || '-',
            new Date(p.reportedAt).toISOString(),
          ]),
        ]),
      )
    }
    context.out.result({ ok: true, ...status }, lines.join('\n'))
  },
}
