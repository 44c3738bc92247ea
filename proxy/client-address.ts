import type { IncomingMessage } from 'node:http'
import { BlockList, isIP } from 'node:net'

/**
 * The client's IP: the socket peer, unless that peer is a trusted proxy, in
 * which case the nearest untrusted address in `X-Forwarded-For`. `trusted`
 * holds addresses or CIDR ranges (`172.30.80.0/24`); an empty set (the
 * default) believes no header, so nobody reaching the port directly can
 * choose the address its limits are counted under.
 */
export function clientAddress(req: IncomingMessage, trusted: ReadonlySet<string>): string {
  const peer = normalise(req.socket.remoteAddress ?? '')
  if (trusted.size === 0) return peer
  const isTrusted = matcher(trusted)
  if (!isTrusted(peer)) return peer
  const header = req.headers['x-forwarded-for']
  const chain = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',')
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = normalise((chain[i] ?? '').trim())
    if (hop !== '' && !isTrusted(hop)) return hop
  }
  return peer
}

// Built once per configured set: the set is made at start-up and lives as long as the server.
const matchers = new WeakMap<ReadonlySet<string>, (address: string) => boolean>()

function matcher(trusted: ReadonlySet<string>): (address: string) => boolean {
  let match = matchers.get(trusted)
  if (match !== undefined) return match
  const list = new BlockList()
  for (const entry of trusted) {
    const [address = '', bits] = entry.split('/')
    const family = isIP(address)
    if (family === 0) continue
    const type = family === 6 ? 'ipv6' : 'ipv4'
    if (bits === undefined) list.addAddress(address, type)
    else list.addSubnet(address, Number(bits), type)
  }
  match = (address) => {
    const family = isIP(address)
    return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4')
  }
  matchers.set(trusted, match)
  return match
}

function normalise(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address
}
