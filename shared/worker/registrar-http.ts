import { ErrorCode } from '../errors.js'
import { CAPABILITIES_HEADER } from '../registrar-api/registrar-capabilities.js'
import { RegistrarRequestError, codeForAnswer } from './registrar-request-error.js'

/** One answer of the registrar. */
export interface RegistrarAnswer {
  status: number
  headers: Headers
  /** The parsed JSON body, or null when it was not JSON. */
  body: unknown
}

/** A request to the registrar. */
export interface RegistrarCallOptions {
  headers?: Record<string, string>
  body?: string
  /** Statuses that are answers rather than errors. Default [200]. */
  accept?: readonly number[]
}

/**
 * HTTP to the registrar over `fetch` (the global one unless another is given), with a deadline per call, every call aborted
 * by {@link close}, and failures turned into {@link RegistrarRequestError}s. Remembers the
 * capabilities the registrar advertises on its answers.
 */
export class RegistrarHttp {
  readonly #base: string
  readonly #timeoutMs: number
  readonly #closed = new AbortController()
  readonly #inFlight = new Set<Promise<unknown>>()
  #advertised: ReadonlySet<string> | null = null

  /** @param baseUrl - the registrar's base URL; a trailing slash is ignored. */
  readonly #fetchImpl: typeof fetch

  constructor(baseUrl: string, timeoutMs: number, fetchImpl: typeof fetch = fetch) {
    this.#base = baseUrl.replace(/\/+$/, '')
    this.#timeoutMs = timeoutMs
    this.#fetchImpl = fetchImpl
  }

  /** Capabilities from the last answer that listed them; null when none has yet. */
  get advertised(): ReadonlySet<string> | null {
    return this.#advertised
  }

  get closed(): boolean {
    return this.#closed.signal.aborted
  }

  /**
   * Sends one request. Rejects with `CLIENT_CLOSED` once closed, `REQUEST_TIMEOUT` past the
   * deadline, `REGISTRAR_UNREACHABLE` when no answer comes, and for an answer whose status is not
   * in `accept` with the code {@link codeForAnswer} picks.
   */
  call(method: string, path: string, options: RegistrarCallOptions = {}): Promise<RegistrarAnswer> {
    if (this.closed) {
      return Promise.reject(
        new RegistrarRequestError(ErrorCode.CLIENT_CLOSED, 'registrar client is closed'),
      )
    }
    const call = this.#fetch(method, path, options)
    this.#inFlight.add(call)
    void call.finally(() => this.#inFlight.delete(call)).catch(() => undefined)
    return call
  }

  /** Aborts every call in flight and waits for them to settle; idempotent. */
  async close(): Promise<void> {
    this.#closed.abort()
    await Promise.allSettled([...this.#inFlight])
  }

  async #fetch(
    method: string,
    path: string,
    options: RegistrarCallOptions,
  ): Promise<RegistrarAnswer> {
    const where = `${method} ${path}`
    const signal = AbortSignal.any([this.#closed.signal, AbortSignal.timeout(this.#timeoutMs)])
    let response: Response
    let text: string
    try {
      response = await this.#fetchImpl(this.#base + path, {
        method,
        headers: options.headers ?? {},
        ...(options.body === undefined ? {} : { body: options.body }),
        signal,
      })
      text = await response.text()
    } catch (err) {
      throw this.#transportError(where, err)
    }
    const advertised = response.headers.get(CAPABILITIES_HEADER)
    if (advertised !== null) {
      this.#advertised = new Set(
        advertised
          .split(',')
          .map((c) => c.trim())
          .filter(Boolean),
      )
    }
    const body = parseJson(text)
    if (!(options.accept ?? [200]).includes(response.status)) {
      const registrarCode = errorCodeOf(body)
      const reason = registrarCode === null ? '' : ` (${registrarCode})`
      throw new RegistrarRequestError(
        codeForAnswer(response.status, registrarCode),
        `registrar answered ${where} with ${response.status}${reason}`,
        { status: response.status, registrarCode },
      )
    }
    return { status: response.status, headers: response.headers, body }
  }

  #transportError(where: string, err: unknown): RegistrarRequestError {
    if (this.closed) {
      return new RegistrarRequestError(ErrorCode.CLIENT_CLOSED, `${where}: client closed`, {
        cause: err,
      })
    }
    if (err instanceof DOMException && err.name === 'TimeoutError') {
      return new RegistrarRequestError(ErrorCode.REQUEST_TIMEOUT, `${where}: no answer in time`, {
        cause: err,
      })
    }
    return new RegistrarRequestError(
      ErrorCode.REGISTRAR_UNREACHABLE,
      `${where}: registrar unreachable`,
      { cause: err },
    )
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return null
  }
}

function errorCodeOf(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null
  const { code } = body as { code?: unknown }
  return typeof code === 'string' ? code : null
}

/** A relay's path under /api/relays. */
// The registrar accepts `:` raw or encoded; raw is what legacy workers send.
export function relayPath(relayKey: string): string {
  return `/api/relays/${encodeURIComponent(relayKey).replace(/%3A/gi, ':')}`
}
