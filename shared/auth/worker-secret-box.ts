import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { ErrorCode, GatewayError } from '../errors.js'

const KEY_HEX = /^[0-9a-fA-F]{64}$/
const VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16
const MAX_SEALED_LENGTH = 1024

/**
 * Seals worker signing secrets for the store with AES-256-GCM under the gateway's account key
 * (`GATEWAY_WORKER_SECRET_KEY`, the same on registrar and proxy). Verifying an HMAC needs the
 * secret itself, so a hash would not do; a copy of the store alone reveals no secret.
 *
 * The worker id is the additional authenticated data: a sealed secret copied onto another
 * account does not open. Format: `v1.<iv>.<ciphertext>.<tag>`, each part base64url.
 */
export class WorkerSecretBox {
  readonly #key: Buffer

  /** @throws GatewayError `CONFIG_INVALID` unless `keyHex` is 64 hex characters. */
  constructor(keyHex: string) {
    if (typeof keyHex !== 'string' || !KEY_HEX.test(keyHex)) {
      throw new GatewayError(
        ErrorCode.CONFIG_INVALID,
        'GATEWAY_WORKER_SECRET_KEY must be 64 hex characters (32 bytes)',
      )
    }
    this.#key = Buffer.from(keyHex, 'hex')
  }

  /** The sealed form of `secret` for account `workerId`; a fresh IV every call. */
  seal(workerId: string, secret: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(additionalData(workerId))
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()])
    return [VERSION, iv, body, cipher.getAuthTag()]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.')
  }

  /**
   * The secret sealed in `sealed` for `workerId`; null when it was sealed under another key,
   * for another account, tampered with or malformed. Never throws.
   */
  open(workerId: string, sealed: unknown): string | null {
    if (typeof sealed !== 'string' || sealed.length > MAX_SEALED_LENGTH) return null
    const parts = sealed.split('.')
    if (parts.length !== 4 || parts[0] !== VERSION) return null
    const [iv, body, tag] = parts.slice(1).map((p) => Buffer.from(p, 'base64url'))
    if (iv?.length !== IV_BYTES || tag?.length !== TAG_BYTES || body === undefined) return null
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv, {
        authTagLength: TAG_BYTES,
      })
      decipher.setAAD(additionalData(workerId))
      decipher.setAuthTag(tag)
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8')
    } catch {
      return null
    }
  }
}

function additionalData(workerId: string): Buffer {
  return Buffer.from(`hypertuna-worker-secret:${VERSION}:${workerId}`, 'utf8')
}
