import type { NostrEvent } from 'nostr-tools/core'

/**
 * A validated NIP-01 filter, in the form matching needs: list fields become sets so
 * each event test is O(filter fields), not O(list lengths).
 * Tag conditions are keyed by the single tag letter (`'t'` for `#t`).
 */
export interface Filter {
  readonly ids?: ReadonlySet<string>
  readonly authors?: ReadonlySet<string>
  readonly kinds?: ReadonlySet<number>
  readonly tags?: ReadonlyMap<string, ReadonlySet<string>>
  readonly since?: number
  readonly until?: number
  readonly limit?: number
}

const HEX64 = /^[0-9a-f]{64}$/
const TAG_KEY = /^#[a-zA-Z]$/
const MAX_KIND = 65535

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * Validates an untrusted NIP-01 filter object.
 * Returns the parsed {@link Filter}, or a human-readable reason (without a NIP-01 prefix)
 * when it is invalid. Unknown fields (for example NIP-50 `search`) are rejected rather than
 * ignored, because ignoring a narrowing condition would answer with events the client did
 * not ask for. An empty list matches nothing.
 */
export function parseFilter(input: unknown): Filter | string {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return 'filter must be a JSON object'
  }
  const filter: Mutable<Filter> = {}
  let tags: Map<string, ReadonlySet<string>> | undefined
  for (const [key, value] of Object.entries(input)) {
    switch (key) {
      case 'ids':
      case 'authors': {
        if (!isStringArray(value) || !value.every((v) => HEX64.test(v))) {
          return `${key} must be an array of 64-character lowercase hex strings`
        }
        filter[key] = new Set(value)
        break
      }
      case 'kinds': {
        if (!Array.isArray(value) || !value.every(isKind)) {
          return `kinds must be an array of integers between 0 and ${MAX_KIND}`
        }
        filter.kinds = new Set(value)
        break
      }
      case 'since':
      case 'until':
      case 'limit': {
        if (!isNonNegativeInteger(value)) return `${key} must be a non-negative integer`
        filter[key] = value
        break
      }
      default: {
        if (!TAG_KEY.test(key)) return `unsupported filter field: ${truncate(key)}`
        if (!isStringArray(value)) return `${key} must be an array of strings`
        tags ??= new Map()
        tags.set(key.slice(1), new Set(value))
      }
    }
  }
  if (tags !== undefined) filter.tags = tags
  return filter
}

/**
 * True when `event` satisfies every condition of `filter` (NIP-01: fields are ANDed, values
 * within a field are ORed; a tag condition matches on a tag's first value).
 * `limit` plays no part here: it only bounds a stored-event query.
 */
export function matchFilter(filter: Filter, event: NostrEvent): boolean {
  if (filter.ids !== undefined && !filter.ids.has(event.id)) return false
  if (filter.authors !== undefined && !filter.authors.has(event.pubkey)) return false
  if (filter.kinds !== undefined && !filter.kinds.has(event.kind)) return false
  if (filter.since !== undefined && event.created_at < filter.since) return false
  if (filter.until !== undefined && event.created_at > filter.until) return false
  if (filter.tags !== undefined) {
    for (const [letter, values] of filter.tags) {
      if (!hasTagValue(event.tags, letter, values)) return false
    }
  }
  return true
}

function hasTagValue(tags: string[][], letter: string, values: ReadonlySet<string>): boolean {
  for (const tag of tags) {
    const value = tag[1]
    if (tag[0] === letter && value !== undefined && values.has(value)) return true
  }
  return false
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string')
}

function isKind(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_KIND
}

function isNonNegativeInteger(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

// Echoing an attacker-sized key back in an error would amplify the reply.
function truncate(text: string): string {
  return text.length > 32 ? `${text.slice(0, 32)}...` : text
}
