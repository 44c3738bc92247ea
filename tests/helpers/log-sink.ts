import { Writable } from 'node:stream'

/** One parsed log line; a line that is not JSON is kept as `{ raw }`. */
export type LogLine = Record<string, unknown>

/** A Writable that collects pino's JSON lines for assertions. */
export interface LogSink {
  readonly stream: Writable
  /** Every line so far, parsed, in write order. */
  lines(): LogLine[]
  /** Everything written so far, verbatim. */
  text(): string
  find(predicate: (line: LogLine) => boolean): LogLine | undefined
  /** Resolves with the first line (past or future) matching `predicate`; rejects on timeout. */
  waitFor(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>
}

interface Waiter {
  predicate: (line: LogLine) => boolean
  resolve: (line: LogLine) => void
}

/** Creates a {@link LogSink}; pass `sink.stream` as the logger's destination. */
export function createLogSink(): LogSink {
  const parsed: LogLine[] = []
  const waiters = new Set<Waiter>()
  let written = ''
  let partial = ''

  const accept = (text: string): void => {
    let line: LogLine
    try {
      const value: unknown = JSON.parse(text)
      line = typeof value === 'object' && value !== null ? (value as LogLine) : { raw: text }
    } catch {
      line = { raw: text }
    }
    parsed.push(line)
    for (const waiter of waiters) {
      if (waiter.predicate(line)) {
        waiters.delete(waiter)
        waiter.resolve(line)
      }
    }
  }

  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      const text = chunk.toString()
      written += text
      // A write is usually one whole line, but nothing guarantees it: split on newlines.
      const pieces = (partial + text).split('\n')
      partial = pieces.pop() ?? ''
      for (const piece of pieces) if (piece !== '') accept(piece)
      callback()
    },
  })

  return {
    stream,
    lines: () => [...parsed],
    text: () => written,
    find: (predicate) => parsed.find(predicate),
    waitFor(predicate, timeoutMs = 2000) {
      const found = parsed.find(predicate)
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          predicate,
          resolve: (line) => {
            clearTimeout(timer)
            resolve(line)
          },
        }
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new Error(`no matching log line within ${timeoutMs} ms; got ${written.trim()}`))
        }, timeoutMs)
        waiters.add(waiter)
      })
    },
  }
}
