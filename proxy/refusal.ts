/** NIP-01 machine-readable prefixes of a refusal. */
export type RefusalPrefix = 'rate-limited' | 'invalid' | 'error' | 'restricted' | 'auth-required'

/**
 * The one line that answers a refused client message in kind: `OK false` for
 * EVENT (and AUTH), `CLOSED` for REQ and COUNT, a NOTICE only when the
 * message names no id the client could match an answer to.
 */
export function refusal(
  message: readonly unknown[] | null,
  prefix: RefusalPrefix,
  text: string,
): string {
  const reason = `${prefix}: ${text}`
  const verb = message?.[0]
  if (verb === 'EVENT' || verb === 'AUTH') {
    const id = (message?.[1] as { id?: unknown } | null | undefined)?.id
    if (typeof id === 'string') return JSON.stringify(['OK', id, false, reason])
  } else if (verb === 'REQ' || verb === 'COUNT') {
    const subId = message?.[1]
    if (typeof subId === 'string') return JSON.stringify(['CLOSED', subId, reason])
  }
  return JSON.stringify(['NOTICE', reason])
}
