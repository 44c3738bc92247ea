import { randomBytes } from 'node:crypto'

/** A worker account's id: 32 lowercase hex characters (16 random bytes). */
export const WORKER_ID_PATTERN = /^[0-9a-f]{32}$/

/** A worker account's signing secret: 64 lowercase hex characters (32 random bytes). */
export const WORKER_SECRET_PATTERN = /^[0-9a-f]{64}$/

/** True for a well-formed worker id. */
export function isWorkerId(value: unknown): value is string {
  return typeof value === 'string' && WORKER_ID_PATTERN.test(value)
}

/** A fresh worker id. */
export function newWorkerId(): string {
  return randomBytes(16).toString('hex')
}

/**
 * A fresh signing secret. Used as an HMAC key string exactly like the shared secret (the UTF-8
 * bytes of the hex text), so workers sign with it unchanged.
 */
export function newWorkerSecret(): string {
  return randomBytes(32).toString('hex')
}
