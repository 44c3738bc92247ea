// Just enough reading of relay-to-client lines for session bookkeeping, without
// parsing whole events on the per-message path.

/** Reads the JSON string starting at `start` (a quote); null when it is not one. */
function readString(line: string, start: number): string | null {
  if (line.charCodeAt(start) !== 34 /* " */) return null
  const end = line.indexOf('"', start + 1)
  if (end === -1) return null
  const raw = line.slice(start + 1, end)
  if (!raw.includes('\\')) return raw
  // Escaped quote inside: rare for subscription ids, worth a full parse.
  try {
    const parsed = JSON.parse(line) as unknown[]
    return typeof parsed[1] === 'string' ? parsed[1] : null
  } catch {
    return null
  }
}

/** Verb of a relay message line (`EVENT`, `EOSE`, ...), or null. */
export function lineVerb(line: string): string | null {
  if (!line.startsWith('["')) return null
  const end = line.indexOf('"', 2)
  return end === -1 ? null : line.slice(2, end)
}

/** The subscription id of an `["EVENT"|"EOSE"|"CLOSED", "<id>", ...]` line. */
export function lineSubscription(line: string, verb: string): string | null {
  return readString(line, verb.length + 4)
}

/**
 * The event id of an EVENT line. Inside JSON strings every quote is escaped,
 * so the first bare `"id":"` is the event's own id key.
 */
export function lineEventId(line: string): string | null {
  const at = line.indexOf('"id":"')
  if (at === -1) return null
  const id = line.slice(at + 6, at + 70)
  return id.length === 64 && line.charCodeAt(at + 70) === 34 ? id : null
}
