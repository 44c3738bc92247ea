import { createCipheriv, createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { request as httpRequest } from 'node:http'
import type { Agent, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { pipeline } from 'node:stream/promises'

const CHUNK = 1024 * 1024

/** A file of pseudo-random bytes written by {@link writePatternFile}. */
export interface PatternFile {
  path: string
  size: number
  /** SHA-256 of the whole file, hex. */
  sha256: string
}

/**
 * Writes `size` incompressible, reproducible bytes (an AES-256-CTR keystream keyed by `seed`)
 * to `path` one 1 MiB chunk at a time, hashing as it goes: a 100 MB file never sits in memory.
 */
export async function writePatternFile(
  path: string,
  size: number,
  seed = 'hypertuna',
): Promise<PatternFile> {
  const key = createHash('sha256').update(seed).digest()
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  const zeros = Buffer.alloc(CHUNK)
  const hash = createHash('sha256')
  const out = createWriteStream(path)
  const done = once(out, 'finish')
  for (let left = size; left > 0; left -= CHUNK) {
    const chunk = cipher.update(left >= CHUNK ? zeros : zeros.subarray(0, left))
    hash.update(chunk)
    if (!out.write(chunk)) await once(out, 'drain')
  }
  out.end()
  await done
  return { path, size, sha256: hash.digest('hex') }
}

/** SHA-256 (hex) of bytes `start`..`end` (inclusive, as in a Range header) of a file, streamed. */
export async function fileRangeSha256(path: string, start: number, end: number): Promise<string> {
  const hash = createHash('sha256')
  await pipeline(createReadStream(path, { start, end }), hash)
  return hash.digest('hex')
}

/** What {@link download} saw. */
export interface Download {
  status: number
  headers: IncomingHttpHeaders
  /** Body bytes received. */
  bytes: number
  /** Empty when not hashed. */
  sha256: string
  /** From the request going out to the last body byte, ms. */
  ms: number
}

/** Options of {@link download}. */
export interface DownloadOptions {
  headers?: OutgoingHttpHeaders
  method?: string
  /** Root certificate for https:// (Caddy's internal CA). */
  ca?: string
  lookup?: NonNullable<Parameters<typeof httpRequest>[1]>['lookup']
  agent?: Agent | false
  /** Hash the body (default true); without it bytes are only counted (throughput runs). */
  hash?: boolean
  /** Called with the running byte count as body chunks arrive. */
  onProgress?: (bytes: number) => void
  timeoutMs?: number
}

/**
 * One request whose body is hashed as it arrives and then dropped: memory stays flat whatever
 * the size. Rejects when the connection breaks before the body ends (a truncated answer).
 */
export function download(url: string, opts: DownloadOptions = {}): Promise<Download> {
  const target = new URL(url)
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: opts.method ?? 'GET',
        headers: opts.headers ?? {},
        agent: opts.agent ?? false,
        timeout: opts.timeoutMs ?? 60_000,
        ...(opts.ca === undefined ? {} : { ca: opts.ca }),
        ...(opts.lookup === undefined ? {} : { lookup: opts.lookup }),
      },
      (res) => {
        const hash = opts.hash === false ? null : createHash('sha256')
        let bytes = 0
        res.on('data', (chunk: Buffer) => {
          hash?.update(chunk)
          bytes += chunk.length
          opts.onProgress?.(bytes)
        })
        res.on('error', reject)
        res.on('aborted', () => reject(new Error(`${target.pathname}: answer cut off`)))
        res.on('end', () => {
          // `end` after `aborted` is not a complete body; the rejection above already won.
          if (!res.complete) return reject(new Error(`${target.pathname}: answer incomplete`))
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            bytes,
            sha256: hash?.digest('hex') ?? '',
            ms: performance.now() - started,
          })
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error(`${target.pathname}: no answer in time`)))
    req.on('error', reject)
    req.end()
  })
}
