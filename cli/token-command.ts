import { shareUrl } from '../shared/worker/share-url.js'
import { AdminClient, relaySegment } from './admin-client.js'
import { usageError } from './cli-error.js'
import type { Command, CommandContext } from './command.js'
import { intFlag } from './command.js'
import { GATEWAY_HELP, GATEWAY_OPTIONS, adminToken, gatewayUrl } from './gateway-options.js'

interface Issued {
  relayKey: string
  token: string
  issuedAt: number
  expiresAt: number
  seq: number
  publicUrl: string
}

/** `hypertuna-gateway token issue|revoke <relay>`. */
export const tokenCommand: Command = {
  name: 'token',
  summary: 'Issue a client token for a relay, or revoke every token issued for it so far.',
  help: `Usage:
  hypertuna-gateway token issue <relay> --gateway <url> [--ttl <seconds>]
  hypertuna-gateway token revoke <relay> --gateway <url>

<relay> is a relay key or its gatewayPath alias. issue prints the token and the share URL
(wss://<gateway>/<relay>?token=...); revoke closes the live sessions of every earlier token.

Options:
${GATEWAY_HELP}
  --ttl <seconds>         token lifetime (default: the registrar's, 1 h)`,
  options: { ...GATEWAY_OPTIONS, ttl: { type: 'string' } },
  async run(context: CommandContext) {
    const [action, relay, ...rest] = context.positionals
    if (action !== 'issue' && action !== 'revoke') {
      throw usageError('token: the first argument must be issue or revoke')
    }
    if (relay === undefined || rest.length > 0)
      throw usageError(`token ${action}: give one <relay>`)
    const gateway = gatewayUrl(context.values, `token ${action}`)
    const ttl = intFlag(context.values, 'ttl')
    const admin = new AdminClient({ gateway, token: adminToken(context) })
    const path = `/relays/${relaySegment(relay)}/tokens`
    if (action === 'issue') {
      const issued = await admin.post<Issued>(path, ttl === undefined ? {} : { ttl })
      const url = shareUrl(issued.publicUrl || gateway, relay, issued.token)
      context.out.result(
        { ok: true, ...issued, shareUrl: url },
        `token    ${issued.token}\nexpires  ${new Date(issued.expiresAt).toISOString()}\nshare    ${url}`,
      )
      return
    }
    const revoked = await admin.post<{ relayKey: string; revokedAt: number; minSeq: number }>(
      `${path}/revoke`,
    )
    context.out.result(
      {
        ok: true,
        relayKey: revoked.relayKey,
        revokedAt: revoked.revokedAt,
        minSeq: revoked.minSeq,
      },
      `revoked every token of ${revoked.relayKey} issued before ${new Date(revoked.revokedAt).toISOString()}`,
    )
  },
}
