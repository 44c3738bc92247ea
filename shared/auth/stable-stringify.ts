/**
 * `JSON.stringify` with every object's keys in a canonical order, the byte form that
 * registration signatures and client tokens are computed over (docs/protocol.md section 4).
 *
 * Key order is the one the legacy worker produces: it rebuilds each object with its keys
 * inserted in sorted order, so the engine's own-property order applies, which puts
 * array-index keys (`"2"`, `"10"`) first in ascending numeric order and then every other
 * key in sorted (UTF-16 code unit) order. Arrays keep their order.
 *
 * Everything else follows `JSON.stringify`: `toJSON` is honoured, object members whose
 * value is `undefined`, a function or a symbol are omitted (they become `null` inside
 * arrays), non-finite numbers become `null`, boxed primitives are unboxed, and a BigInt
 * or a circular structure throws a `TypeError`.
 *
 * Deliberate differences from the legacy implementation, none of which a worker relies
 * on: an own `"__proto__"` key is serialised (legacy silently dropped it, which would let
 * an unsigned key ride along with a signed object), boxed primitives are unboxed (legacy
 * wrote `{}`), and cycles throw a `TypeError` (legacy overflowed the stack).
 *
 * @throws TypeError when `value` has no JSON text (`undefined`, a function or a symbol at
 * the top level), contains a BigInt, or is circular.
 */
export function stableStringify(value: unknown): string {
  const text = serialize('', value, new Set())
  if (text === undefined) {
    throw new TypeError(`stableStringify: a top-level ${typeof value} has no JSON text`)
  }
  return text
}

// Follows the spec's SerializeJSONProperty step by step so results match JSON.stringify
// byte for byte, except for object key order.
function serialize(key: string, input: unknown, stack: Set<object>): string | undefined {
  // JSON.stringify looks up toJSON on objects (functions included) and BigInts only.
  const canHaveToJSON =
    (typeof input === 'object' && input !== null) ||
    typeof input === 'function' ||
    typeof input === 'bigint'
  const value = unbox(canHaveToJSON ? applyToJSON(input, key) : input)

  switch (typeof value) {
    case 'string':
    case 'number':
      // JSON.stringify already does string escaping, NaN/Infinity -> null and -0 -> 0.
      return JSON.stringify(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'bigint':
      throw new TypeError('stableStringify: cannot serialise a BigInt')
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined
  }
  if (value === null) return 'null'

  const object = value as object
  if (stack.has(object)) {
    throw new TypeError('stableStringify: cannot serialise a circular structure')
  }
  stack.add(object)
  const text = Array.isArray(object)
    ? serializeArray(object, stack)
    : serializeObject(object as Record<string, unknown>, stack)
  stack.delete(object)
  return text
}

function applyToJSON(value: unknown, key: string): unknown {
  const toJSON: unknown = (value as { toJSON?: unknown }).toJSON
  return typeof toJSON === 'function' ? (toJSON as (k: string) => unknown).call(value, key) : value
}

function unbox(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value
  if (value instanceof Number) return Number(value)
  if (value instanceof String) return String(value)
  if (value instanceof Boolean || value instanceof BigInt) return value.valueOf()
  return value
}

function serializeArray(array: readonly unknown[], stack: Set<object>): string {
  const parts: string[] = []
  for (let i = 0; i < array.length; i++) {
    parts.push(serialize(String(i), array[i], stack) ?? 'null')
  }
  return `[${parts.join(',')}]`
}

function serializeObject(object: Record<string, unknown>, stack: Set<object>): string {
  const parts: string[] = []
  for (const key of legacyKeyOrder(object)) {
    const text = serialize(key, object[key], stack)
    if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`)
  }
  return `{${parts.join(',')}}`
}

// Letting the engine order the keys of a rebuilt object is the surest way to match the
// legacy worker, which serialised exactly such a rebuilt object. A null prototype keeps
// "__proto__" an ordinary own key instead of invoking the prototype setter.
function legacyKeyOrder(object: object): string[] {
  const rebuilt: Record<string, true> = Object.create(null) as Record<string, true>
  for (const key of Object.keys(object).sort()) rebuilt[key] = true
  return Object.keys(rebuilt)
}
