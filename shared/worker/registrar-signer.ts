import { issueClientToken } from '../auth/client-token.js'
import { assertSecret } from '../auth/hmac.js'
import { signDelete, signLegacyDelete, signRegistration } from '../auth/registration-signature.js'
import { SignedHeader } from '../registrar-api/registrar-capabilities.js'
import { SignedAction, newNonce, signRequest } from '../registrar-api/signed-request.js'
import type { SignedActionName } from '../registrar-api/signed-request.js'
import type { RelayToRegister } from './registrar-client.js'

/** Options of {@link RegistrarSigner}. */
export interface RegistrarSignerOptions {
  /** The shared registration secret, or, with `workerId`, the worker account's own secret. */
  secret: string
  /** The worker account the signatures name; absent: the legacy shared secret. */
  workerId?: string
  /** Clock for `issuedAt`, ms since the epoch. Default Date.now. */
  now?: () => number
}

/** What a locally minted client token needs beyond its relay. */
export interface LocalTokenFields {
  ttlMs: number
  pubkey?: string | undefined
  relayAuthToken?: string | undefined
}

/**
 * Signs a worker's registrar requests: the legacy registration payload, the replay-proof forms
 * (fresh nonce and `issuedAt`, in headers or in the body), and locally minted client tokens.
 * With a worker account, every signed object and header set names it (`workerId`,
 * `x-worker-id`). The only holder of the secret.
 */
export class RegistrarSigner {
  /** The worker account signed as; undefined with the shared secret. */
  readonly workerId: string | undefined
  readonly #secret: string
  // Spread into every signed object: an account's signatures name it.
  readonly #account: { workerId?: string }
  readonly #now: () => number

  /** @throws GatewayError `SECRET_TOO_SHORT` */
  constructor(options: RegistrarSignerOptions) {
    assertSecret(options.secret)
    this.#secret = options.secret
    this.workerId = options.workerId
    this.#account = options.workerId === undefined ? {} : { workerId: options.workerId }
    this.#now = options.now ?? Date.now
  }

  /** The body of `POST /api/relays`: `{relayKey, nonce, issuedAt, peers, metadata}` signed. */
  registration(relay: RelayToRegister): { registration: object; signature: string } {
    const registration = {
      relayKey: relay.relayKey,
      nonce: newNonce(),
      issuedAt: this.#now(),
      peers: [...relay.peers],
      metadata: { ...(relay.metadata ?? {}) },
      ...this.#account,
    }
    return { registration, signature: signRegistration(this.#secret, registration) }
  }

  /** Headers of a replay-proof DELETE or a signed GET of `relayKey`. */
  headers(
    relayKey: string,
    action: typeof SignedAction.GET | typeof SignedAction.DELETE,
  ): Record<string, string> {
    const nonce = newNonce()
    const issuedAt = this.#now()
    const { workerId } = this
    // The shared secret's DELETE keeps the form registrars had before signed requests.
    const signature =
      workerId === undefined && action === SignedAction.DELETE
        ? signDelete(this.#secret, { relayKey, nonce, issuedAt })
        : signRequest(this.#secret, { relayKey, action, nonce, issuedAt, ...this.#account })
    const headers = {
      [SignedHeader.NONCE]: nonce,
      [SignedHeader.ISSUED_AT]: String(issuedAt),
      [SignedHeader.SIGNATURE]: signature,
    }
    return workerId === undefined ? headers : { ...headers, [SignedHeader.WORKER_ID]: workerId }
  }

  /** Headers of the legacy DELETE, whose signature can be replayed forever. */
  legacyDeleteHeaders(relayKey: string): Record<string, string> {
    return { [SignedHeader.SIGNATURE]: signLegacyDelete(this.#secret, relayKey) }
  }

  /** A signed request body: `fields` with the action, a fresh nonce, `issuedAt` and `signature`. */
  body(
    relayKey: string,
    action: SignedActionName,
    extra: Record<string, unknown>,
  ): Record<string, unknown> {
    const fields = {
      relayKey,
      action,
      nonce: newNonce(),
      issuedAt: this.#now(),
      ...extra,
      ...this.#account,
    }
    return { ...fields, signature: signRequest(this.#secret, fields) }
  }

  /** A client token minted here with the secret (the legacy way; no `seq`). */
  localToken(relayKey: string, fields: LocalTokenFields): { token: string; issuedAt: number } {
    const issuedAt = this.#now()
    const { ttlMs, pubkey, relayAuthToken } = fields
    const token = issueClientToken(this.#secret, {
      relayKey,
      issuedAt,
      ttlMs,
      ...(pubkey === undefined ? {} : { pubkey }),
      ...(relayAuthToken === undefined ? {} : { relayAuthToken }),
    })
    return { token, issuedAt }
  }
}
