import type { Body, Headers } from './wire.js'

/** What a route handler sees of an incoming relay-v2 request. */
export interface RouteRequest {
  method: string
  path: string
  params: Record<string, string>
  query: URLSearchParams
  headers: Headers
  /** Bytes, or text when the sender wrote a JSON string (wire.ts `Body`). */
  body: Body
}

/** A handler's answer. A plain object or array body is sent as JSON. */
export interface RouteResponse {
  statusCode: number
  headers?: Headers
  body?: Buffer | string | object | null
}

/**
 * Handles one request; `channel` is the connection it arrived on (a RelayChannel: the type is a
 * parameter so this file need not import the channel, which imports it).
 */
export type RouteHandler<Ctx = unknown, Ch = unknown> = (
  req: RouteRequest,
  ctx: Ctx,
  channel: Ch,
) => RouteResponse | Promise<RouteResponse>

interface Route<Ctx, Ch> {
  method: string
  segments: string[]
  handler: RouteHandler<Ctx, Ch>
}

/** Result of matching a request against the table. */
export interface RouteMatch<Ctx, Ch = unknown> {
  handler: RouteHandler<Ctx, Ch>
  params: Record<string, string>
}

function decode(segment: string): string | null {
  try {
    return decodeURIComponent(segment)
  } catch {
    return null
  }
}

/**
 * Method + path table with `:param` segments. Matching is per segment, so a
 * parameter never spans a `/` but may hold a `:` (as in `npub1..:name`).
 */
export class Router<Ctx = unknown, Ch = unknown> {
  readonly #routes: Route<Ctx, Ch>[] = []

  on(method: string, pattern: string, handler: RouteHandler<Ctx, Ch>): this {
    this.#routes.push({
      method: method.toUpperCase(),
      segments: pattern.split('/').filter(Boolean),
      handler,
    })
    return this
  }

  get(pattern: string, handler: RouteHandler<Ctx, Ch>): this {
    return this.on('GET', pattern, handler)
  }

  post(pattern: string, handler: RouteHandler<Ctx, Ch>): this {
    return this.on('POST', pattern, handler)
  }

  /** Finds the first route for `method` and `pathname` (no query string). */
  match(method: string, pathname: string): RouteMatch<Ctx, Ch> | null {
    const parts = pathname.split('/').filter(Boolean)
    // HEAD is served by the GET handler; the channel drops the body.
    const wanted = method === 'HEAD' ? 'GET' : method
    outer: for (const route of this.#routes) {
      if (route.method !== wanted || route.segments.length !== parts.length) continue
      const params: Record<string, string> = {}
      for (let i = 0; i < parts.length; i++) {
        const pattern = route.segments[i] as string
        const part = parts[i] as string
        if (pattern.startsWith(':')) {
          const value = decode(part)
          if (value === null) continue outer
          params[pattern.slice(1)] = value
        } else if (pattern !== part) {
          continue outer
        }
      }
      return { handler: route.handler, params }
    }
    return null
  }
}

/** Splits `/a/b?x=1` into pathname and parsed query. */
export function splitPath(path: string): { pathname: string; query: URLSearchParams } {
  const q = path.indexOf('?')
  if (q === -1) return { pathname: path, query: new URLSearchParams() }
  return { pathname: path.slice(0, q), query: new URLSearchParams(path.slice(q + 1)) }
}
