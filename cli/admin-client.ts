import { CliError, ExitCode } from './cli-error.js'

/** Options of {@link AdminClient}. */
export interface AdminClientOptions {
  /** The gateway's public base URL; the admin API is `<gateway>/api/admin/...`. */
  gateway: string
  token: string
  fetch?: typeof fetch
  timeoutMs?: number
}

/**
 * The registrar's admin API (docs/registrar.md, "Admin API") over fetch, Bearer-authenticated.
 * Every failure becomes a {@link CliError}: no answer -> `gateway_unreachable`, an error answer
 * -> its registrar `code` (e.g. `admin_unauthorized`, `relay_not_found`), both exit 3.
 */
export class AdminClient {
  readonly #base: string
  readonly #token: string
  readonly #fetch: typeof fetch
  readonly #timeoutMs: number

  constructor(options: AdminClientOptions) {
    this.#base = `${options.gateway.replace(/\/+$/, '')}/api/admin`
    this.#token = options.token
    this.#fetch = options.fetch ?? fetch
    this.#timeoutMs = options.timeoutMs ?? 15_000
  }

  get<T>(path: string): Promise<T> {
    return this.#call<T>('GET', path)
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.#call<T>('POST', path, body)
  }

  delete<T>(path: string): Promise<T> {
    return this.#call<T>('DELETE', path)
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response
    let text: string
    try {
      response = await this.#fetch(this.#base + path, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
      text = await response.text()
    } catch (err) {
      throw new CliError(
        ExitCode.GATEWAY,
        'gateway_unreachable',
        `the gateway at ${this.#base} does not answer: ${causeText(err)}`,
        { cause: err },
      )
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = null
    }
    if (response.ok && parsed !== null) return parsed as T
    const code = (parsed as { code?: unknown } | null)?.code
    const message = (parsed as { error?: unknown } | null)?.error
    if (response.status === 404 && code === 'not_found') {
      throw new CliError(
        ExitCode.GATEWAY,
        'admin_api_off',
        'the gateway has no admin API (GATEWAY_ADMIN_TOKEN is not set on its registrar)',
      )
    }
    throw new CliError(
      ExitCode.GATEWAY,
      typeof code === 'string' ? code : `http_${response.status}`,
      `${method} ${path}: ${response.status} ${typeof message === 'string' ? message : ''}`.trim(),
    )
  }
}

/** The innermost cause's message (fetch wraps the socket error). */
export function causeText(err: unknown): string {
  let e: unknown = err
  while (e instanceof Error && e.cause !== undefined) e = e.cause
  if (e instanceof Error) return (e as NodeJS.ErrnoException).code ?? e.message
  return String(e)
}

/** A relay key or alias as a path segment (`:` kept, as the registrar expects). */
export function relaySegment(relay: string): string {
  return relay
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/%3A/gi, ':'))
    .join('%2F')
}
