import { readFileSync } from 'node:fs'
import { CliError, ExitCode, usageError } from './cli-error.js'
import type { CommandContext } from './command.js'
import { requiredFlag, stringFlag } from './command.js'

/** --help lines of the gateway flags the admin commands share. */
export const GATEWAY_HELP = `  --gateway <url>         the gateway's public base URL, e.g. https://gateway.example.com
                          (its registrar API is under /api, as behind Caddy)
  --admin-token-file <f>  file holding GATEWAY_ADMIN_TOKEN (else the GATEWAY_ADMIN_TOKEN
                          environment variable)`

/** The options of {@link GATEWAY_HELP}. */
export const GATEWAY_OPTIONS = {
  gateway: { type: 'string' },
  'admin-token-file': { type: 'string' },
} as const

/** `--gateway` checked: an http(s) URL, without a trailing slash. */
export function gatewayUrl(values: CommandContext['values'], command: string): string {
  const text = requiredFlag(values, 'gateway', command)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw usageError(`${command}: --gateway is not a URL: ${text}`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw usageError(`${command}: --gateway must be an http(s):// URL`)
  }
  return url.href.replace(/\/+$/, '')
}

/** The first line of a secret file, trimmed; a clear error when it cannot be read. */
export function readSecretFile(path: string, what: string): string {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new CliError(
      ExitCode.USAGE,
      'secret_file_unreadable',
      `cannot read ${what} from ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    )
  }
  const secret = text.split(/\r?\n/)[0]?.trim() ?? ''
  if (secret === '') throw new CliError(ExitCode.USAGE, 'secret_file_empty', `${path} is empty`)
  return secret
}

/** The admin token from --admin-token-file or GATEWAY_ADMIN_TOKEN. */
export function adminToken(context: CommandContext): string {
  const file = stringFlag(context.values, 'admin-token-file')
  if (file !== undefined) return readSecretFile(file, 'the admin token')
  const env = context.env.GATEWAY_ADMIN_TOKEN
  if (env !== undefined && env !== '') return env
  throw usageError('an admin token is needed: --admin-token-file <file> or GATEWAY_ADMIN_TOKEN')
}
