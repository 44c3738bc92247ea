import { ErrorCode, wireCode } from '../errors.js'
import type { WireCode } from '../errors.js'

/** How the shared store answered a readiness probe. */
export type StoreState = 'ok' | 'unreachable'

/**
 * The one `/ready` body of every gateway process. 200 carries `status: "ready"`; 503 carries
 * `status: "not ready"` with the stable `code` of the reason and a human `error`. `store` says
 * how the shared store answered either way (the proxy stays ready through a store outage).
 */
export type ReadyBody =
  | { status: 'ready'; store: StoreState }
  | { status: 'not ready'; store: StoreState; code: WireCode; error: string }

/** Body of a 200 `/ready`. */
export function readyBody(store: StoreState): ReadyBody {
  return { status: 'ready', store }
}

/** Body of a 503 `/ready`: `code` defaults to `not_ready`. */
export function notReadyBody(
  store: StoreState,
  error: string,
  code: WireCode = wireCode(ErrorCode.NOT_READY),
): ReadyBody {
  return { status: 'not ready', store, code, error }
}
