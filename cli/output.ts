import type { Writable } from 'node:stream'

/** Where a command writes: results to stdout, progress and errors to stderr. */
export interface CliStreams {
  stdout: Writable & { isTTY?: boolean }
  stderr: Writable & { isTTY?: boolean }
}

/**
 * A command's output: human text by default, one JSON document (or JSON lines for long-running
 * commands) on stdout with `--json`. Progress lines always go to stderr, so stdout stays
 * machine-readable.
 */
export class Output {
  readonly json: boolean
  readonly #streams: CliStreams

  constructor(streams: CliStreams, json: boolean) {
    this.#streams = streams
    this.json = json
  }

  /** Whether stdout is a terminal (live status lines may redraw in place). */
  get interactive(): boolean {
    return !this.json && this.#streams.stdout.isTTY === true
  }

  /** A progress line on a slow step ("joining the DHT ..."). */
  progress(text: string): void {
    this.#streams.stderr.write(`${text}\n`)
  }

  /** The result: `human` text, or `data` as JSON. */
  result(data: unknown, human: string): void {
    if (this.json) this.#streams.stdout.write(`${JSON.stringify(data)}\n`)
    else this.#streams.stdout.write(human.endsWith('\n') ? human : `${human}\n`)
  }

  /** Raw text on stdout (status line redraws). */
  write(text: string): void {
    this.#streams.stdout.write(text)
  }

  /** An error, as `{ok:false,error}` on stdout with --json, else a line on stderr. */
  error(code: string, message: string): void {
    if (this.json) {
      this.#streams.stdout.write(`${JSON.stringify({ ok: false, error: { code, message } })}\n`)
    } else {
      this.#streams.stderr.write(`hypertuna-gateway: ${message}\n`)
    }
  }
}

/** Left-aligned columns for human tables. */
export function table(rows: string[][]): string {
  const widths: number[] = []
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .join('\n')
}
