import type { NoiseSecretStream } from 'hyperdht'

/** Destroys `stream` and resolves once it has closed (at once if it already was). */
export function closeStream(stream: NoiseSecretStream): Promise<void> {
  if (stream.destroyed) return Promise.resolve()
  const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()))
  stream.destroy()
  return closed
}
