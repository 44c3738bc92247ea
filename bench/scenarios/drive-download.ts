import { download } from '../../tests/helpers/big-file.js'
import { rssBytes } from '../proc-stats.js'

/** Options of {@link measureDownload}. */
export interface DownloadOptions {
  url: string
  headers?: Record<string, string>
  /** Hash the body and compare (slower: counts hashing in the client's time). */
  expectSha256?: string
  /** A process whose resident set is sampled during the transfer (the proxy). */
  rssPid?: number
}

/** One streamed download. */
export interface DownloadSample {
  status: number
  bytes: number
  ms: number
  /** Bytes per second over the whole request, first byte out to last byte in. */
  perSecond: number
  /** Hash matched `expectSha256`; null when not checked. */
  intact: boolean | null
  /** Highest VmRSS of `rssPid` seen during the transfer, bytes (NaN without a pid). */
  rssPeak: number
}

const RSS_SAMPLE_MS = 20

/**
 * A GET whose body is counted (and hashed when asked) as it arrives and then dropped, so the
 * client holds nothing; the proxy's RSS is read from /proc every 20 ms meanwhile.
 */
export async function measureDownload(opts: DownloadOptions): Promise<DownloadSample> {
  let rssPeak = Number.NaN
  const sample = () => {
    if (opts.rssPid === undefined) return
    const rss = rssBytes(opts.rssPid)
    if (!(rss <= rssPeak)) rssPeak = rss
  }
  sample()
  const timer = setInterval(sample, RSS_SAMPLE_MS)
  try {
    const d = await download(opts.url, {
      ...(opts.headers === undefined ? {} : { headers: opts.headers }),
      hash: opts.expectSha256 !== undefined,
      timeoutMs: 120_000,
    })
    sample()
    return {
      status: d.status,
      bytes: d.bytes,
      ms: d.ms,
      perSecond: d.bytes / (d.ms / 1000),
      intact: opts.expectSha256 === undefined ? null : d.sha256 === opts.expectSha256,
      rssPeak,
    }
  } finally {
    clearInterval(timer)
  }
}
