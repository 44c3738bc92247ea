/** What `fn` throws, or undefined when it returns: for asserting on error codes. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}
