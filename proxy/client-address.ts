import type { IncomingMessage } from 'node:http'

/**
 * The client's IP: the socket peer, unless that peer is a trusted proxy, in
 * which case the nearest untrusted address in `X-Forwarded-For`.
 */
export function clientAddress(req: IncomingMessage, trusted: ReadonlySet<string>): string {
  const peer = normalise(req.socket.remoteAddress ?? '')
  if (!trusted.has(peer)) return peer
  const header = req.headers['x-forwarded-for']
  const chain = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',')
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = normalise((chain[i] ?? '').trim())
    if (hop !== '' && !trusted.has(hop)) return hop
  }
  return peer
}

function normalise(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address
}
