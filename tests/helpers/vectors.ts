import { readFileSync } from 'node:fs'

/** The legacy worker vectors, copied from the shared protocol material. */
export interface Vectors {
  secret: string
  tokens: Array<{ payload: Record<string, unknown>; token: string }>
  registration: {
    body: { registration: Record<string, unknown>; signature: string }
    deleteSignature: { relayKey: string; signature: string }
  }
  protomux: Record<
    | 'clientOpenFrames'
    | 'serverOpenFrames'
    | 'request'
    | 'response'
    | 'wsframe'
    | 'healthcheck'
    | 'healthresponse',
    string[]
  >
}

// Compiled tests live in dist/tests/helpers; the fixture stays in the source tree.
export const vectors: Vectors = JSON.parse(
  readFileSync(new URL('../../../tests/fixtures/relay-v2.json', import.meta.url), 'utf8'),
) as Vectors

/** First frame of a vector list, as bytes. */
export function frame(name: keyof Vectors['protomux']): Buffer {
  return Buffer.from(vectors.protomux[name][0] as string, 'hex')
}
