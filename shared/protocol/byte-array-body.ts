// The legacy body form, bytes spelled as a JSON array of numbers, is three to
// four times the size of the bytes and sits on every message. These helpers
// write and read it straight between byte buffers, with no intermediate string
// or array of numbers.

const COMMA = 44
const OPEN = 91
const CLOSE = 93
const ZERO = 48
const NINE = 57

// ASCII digits of every byte value, and their count.
const DIGITS: Uint8Array[] = []
const DIGIT_COUNT = new Uint8Array(256)
for (let b = 0; b < 256; b++) {
  DIGITS.push(Buffer.from(String(b), 'latin1'))
  DIGIT_COUNT[b] = b < 10 ? 1 : b < 100 ? 2 : 3
}
const NULL_TEXT = Buffer.from('null', 'latin1')

/** Length in bytes of `body` as legacy JSON text (`null`, `[]` or `[1,2,3]`). */
export function byteArrayLength(body: Uint8Array | null): number {
  if (body === null) return 4
  const n = body.length
  if (n === 0) return 2
  let length = n + 1 // brackets plus n - 1 commas
  for (let i = 0; i < n; i++) length += DIGIT_COUNT[body[i] as number] as number
  return length
}

/** Writes `body` as legacy JSON text into `out` at `at`; returns the offset after it. */
export function writeByteArray(out: Uint8Array, at: number, body: Uint8Array | null): number {
  if (body === null) {
    out.set(NULL_TEXT, at)
    return at + 4
  }
  out[at++] = OPEN
  for (let i = 0; i < body.length; i++) {
    if (i > 0) out[at++] = COMMA
    const digits = DIGITS[body[i] as number] as Uint8Array
    out[at++] = digits[0] as number
    if (digits.length > 1) out[at++] = digits[1] as number
    if (digits.length > 2) out[at++] = digits[2] as number
  }
  out[at++] = CLOSE
  return at
}

/**
 * Reads a JSON array of plain non-negative integers that occupies exactly
 * `[start, end)` of `buf`. Null when the text is anything else (spaces,
 * signs, decimals...): the caller then falls back to JSON.parse. Values wrap
 * modulo 256, as `Buffer.from(array)` does.
 */
export function readByteArray(buf: Uint8Array, start: number, end: number): Buffer | null {
  if (end - start < 2 || buf[start] !== OPEN || buf[end - 1] !== CLOSE) return null
  const out = Buffer.allocUnsafe((end - start) >> 1)
  let n = 0
  let value = 0
  let digits = 0
  for (let i = start + 1; i < end - 1; i++) {
    const ch = buf[i] as number
    if (ch >= ZERO && ch <= NINE) {
      value = value * 10 + ch - ZERO
      digits++
    } else if (ch === COMMA && digits > 0) {
      out[n++] = value & 255
      value = 0
      digits = 0
    } else {
      return null
    }
  }
  if (digits > 0) out[n++] = value & 255
  else if (n > 0) return null // a trailing comma
  return out.subarray(0, n)
}

/**
 * Finds the `"body":[...]` member that closes a message spelled by legacy
 * code (`{..., "body": [...]}` with body last). Returns the array's bounds,
 * or null for any other layout. A bare `"body":[` can only be a key: inside
 * JSON strings every quote is escaped.
 */
export function trailingByteArray(
  buf: Uint8Array,
  start: number,
  end: number,
): [number, number] | null {
  if (end - start < 12 || buf[end - 1] !== 125 /* } */ || buf[end - 2] !== CLOSE) return null
  let i = end - 3
  while (
    i > start &&
    ((buf[i] as number) === COMMA || ((buf[i] as number) >= ZERO && (buf[i] as number) <= NINE))
  )
    i--
  if (buf[i] !== OPEN) return null
  // `,"body":` right before the bracket.
  const key = i - 8
  if (key < start) return null
  const KEY = ',"body":'
  for (let k = 0; k < 8; k++) if (buf[key + k] !== KEY.charCodeAt(k)) return null
  return [i, end - 1]
}
