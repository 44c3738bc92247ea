import { isWorkerId } from '../auth/worker-credentials.js'
import type {
  ProxyReport,
  Registration,
  RelayOwner,
  StoreChange,
  TokenState,
  UsageCounters,
  WorkerRecord,
} from './gateway-store.js'

// Checks shared by every GatewayStore implementation, so MemoryStore and RedisStore accept,
// reject and read back exactly the same values.

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

const isFiniteNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value)

/**
 * A registration read back from storage (already JSON-parsed), or null when it does not have
 * the {@link Registration} shape. `relayKey`, when given, must match the stored one.
 */
export function parseRegistration(value: unknown, relayKey?: string): Registration | null {
  if (!isRecord(value)) return null
  const { peers, metadata, nonce, issuedAt, registeredAt, expiresAt } = value
  if (typeof value.relayKey !== 'string' || value.relayKey === '') return null
  if (relayKey !== undefined && value.relayKey !== relayKey) return null
  if (!Array.isArray(peers) || !peers.every((p) => typeof p === 'string')) return null
  if (!isRecord(metadata)) return null
  if (metadata.gatewayPath !== undefined && typeof metadata.gatewayPath !== 'string') return null
  if (nonce !== null && typeof nonce !== 'string') return null
  if (issuedAt !== null && !isFiniteNumber(issuedAt)) return null
  if (!isFiniteNumber(registeredAt) || !isFiniteNumber(expiresAt)) return null
  if (value.workerId !== undefined && !isWorkerId(value.workerId)) return null
  return value as unknown as Registration
}

/**
 * The registration as it will be stored: a JSON round trip (what Redis keeps), validated.
 * Throws TypeError for a value that could not be read back.
 */
export function normalizeRegistration(registration: Registration): Registration {
  const copy: unknown = JSON.parse(JSON.stringify(registration))
  const parsed = parseRegistration(copy)
  if (parsed === null) throw new TypeError('registration does not have the Registration shape')
  return parsed
}

/** The alias a registration claims, or null. */
export function gatewayPathOf(registration: Registration): string | null {
  const path = registration.metadata.gatewayPath
  return typeof path === 'string' && path !== '' ? path : null
}

/** A TTL in whole milliseconds (at least 1); throws RangeError unless positive and finite. */
export function ttlToMs(ttlSeconds: number): number {
  if (!isFiniteNumber(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError('ttlSeconds must be a positive finite number')
  }
  return Math.max(1, Math.round(ttlSeconds * 1000))
}

/**
 * One string per (scope, nonce) pair. The scope is URI-encoded so it cannot contain the `:`
 * separator: ("a:b", "c") and ("a", "b:c") must not collide.
 */
export function nonceId(scope: string, nonce: string): string {
  if (typeof scope !== 'string' || typeof nonce !== 'string' || nonce === '') {
    throw new TypeError('scope must be a string and nonce a non-empty string')
  }
  return `${encodeURIComponent(scope)}:${nonce}`
}

/** Counter entries to add; throws RangeError for a value HINCRBY could not apply. */
export function usageEntries(counters: UsageCounters): Array<[string, number]> {
  const entries = Object.entries(counters)
  for (const [, value] of entries) {
    if (!Number.isSafeInteger(value)) throw new RangeError('usage counters must be safe integers')
  }
  return entries
}

/** The revocation time to keep: never earlier than a previous one (clocks of processes differ). */
export function revocationTime(previous: number, now: number): number {
  if (!isFiniteNumber(now) || now < 0) throw new RangeError('now must be a finite ms timestamp')
  return Math.max(previous, Math.trunc(now))
}

/** A change-feed message from another process, or null when malformed. */
export function parseStoreChange(value: unknown): StoreChange | null {
  if (!isRecord(value)) return null
  if (value.type === 'worker-disabled') {
    const { workerId, relayKeys } = value
    if (!isWorkerId(workerId) || !Array.isArray(relayKeys)) return null
    if (!relayKeys.every((k) => typeof k === 'string' && k !== '')) return null
    return { type: 'worker-disabled', workerId, relayKeys: relayKeys as string[] }
  }
  if (typeof value.relayKey !== 'string' || value.relayKey === '') return null
  const { relayKey } = value
  switch (value.type) {
    case 'registration':
    case 'registration-removed':
      return { type: value.type, relayKey }
    case 'tokens-revoked': {
      const state = parseTokenState(value.state)
      return state === null ? null : { type: 'tokens-revoked', relayKey, state }
    }
    case 'relay-released':
      return isWorkerId(value.workerId)
        ? { type: 'relay-released', relayKey, workerId: value.workerId }
        : null
    default:
      return null
  }
}

function parseTokenState(value: unknown): TokenState | null {
  if (!isRecord(value)) return null
  const { seq, minSeq, revokedAt } = value
  if (![seq, minSeq, revokedAt].every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) {
    return null
  }
  return { seq: seq as number, minSeq: minSeq as number, revokedAt: revokedAt as number }
}

const MAX_REPORT_ENTRIES = 10_000

/**
 * A proxy report as it will be stored (JSON round trip, checked), or, for a value read back,
 * null when it does not have the {@link ProxyReport} shape. Throws TypeError on write.
 */
export function parseProxyReport(value: unknown): ProxyReport | null {
  if (!isRecord(value)) return null
  const { proxyId, reportedAt, sessions, relays, peers } = value
  if (typeof proxyId !== 'string' || proxyId === '' || !isFiniteNumber(reportedAt)) return null
  if (!Number.isSafeInteger(sessions) || !isRecord(relays) || !isRecord(peers)) return null
  if (Object.keys(relays).length + Object.keys(peers).length > MAX_REPORT_ENTRIES) return null
  if (!Object.values(relays).every((n) => Number.isSafeInteger(n))) return null
  for (const entry of Object.values(peers)) {
    if (!isRecord(entry) || typeof entry.state !== 'string') return null
    if (!Number.isSafeInteger(entry.sessions)) return null
    if (entry.latencyMs !== null && !isFiniteNumber(entry.latencyMs)) return null
  }
  return value as unknown as ProxyReport
}

/** The report as stored: a JSON copy, validated; throws TypeError when it is malformed. */
export function normalizeProxyReport(report: ProxyReport): ProxyReport {
  const parsed = parseProxyReport(JSON.parse(JSON.stringify(report)))
  if (parsed === null) throw new TypeError('report does not have the ProxyReport shape')
  return parsed
}

/** A worker account read back from storage, or null when it does not have the shape. */
export function parseWorkerRecord(value: unknown, workerId?: string): WorkerRecord | null {
  if (!isRecord(value) || !isWorkerId(value.workerId)) return null
  if (workerId !== undefined && value.workerId !== workerId) return null
  const { name, createdAt, disabledAt, sealedSecret } = value
  if (typeof name !== 'string' || !isFiniteNumber(createdAt)) return null
  if (disabledAt !== null && !isFiniteNumber(disabledAt)) return null
  if (sealedSecret !== null && typeof sealedSecret !== 'string') return null
  return { workerId: value.workerId, name, createdAt, disabledAt, sealedSecret }
}

/** The account as it will be stored (only its own fields, checked); throws TypeError. */
export function normalizeWorkerRecord(record: WorkerRecord): WorkerRecord {
  const parsed = parseWorkerRecord(JSON.parse(JSON.stringify(record)))
  if (parsed === null) throw new TypeError('worker record does not have the WorkerRecord shape')
  return parsed
}

/** A relay's ownership read back from storage, or null when it does not have the shape. */
export function parseRelayOwner(value: unknown, relayKey?: string): RelayOwner | null {
  if (!isRecord(value) || typeof value.relayKey !== 'string' || value.relayKey === '') return null
  if (relayKey !== undefined && value.relayKey !== relayKey) return null
  const { workerId, gatewayPath, claimedAt } = value
  if (!isWorkerId(workerId) || !isFiniteNumber(claimedAt)) return null
  if (gatewayPath !== null && typeof gatewayPath !== 'string') return null
  return { relayKey: value.relayKey, workerId, gatewayPath, claimedAt }
}
