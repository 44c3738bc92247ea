/**
 * RFC 9110 7.6.1 connection-specific headers: they describe one hop (the client's connection or
 * the worker's), so a forward never copies them from one side to the other.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
])
