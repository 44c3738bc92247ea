/** One thing to stop. */
interface Step {
  readonly name: string
  readonly stop: () => Promise<void> | void
}

/** What the demo started, stopped last-started-first. */
export class Teardown {
  readonly #steps: Step[] = []

  /** Remembers how to stop something that has just started. */
  add(name: string, stop: () => Promise<void> | void): void {
    this.#steps.push({ name, stop })
  }

  /**
   * Runs every step in reverse order of {@link add}, each once. A step that fails is reported
   * to `onError` and the others still run: one stuck part must not leave the rest running.
   * Resolves true when every step succeeded.
   */
  async run(onError: (name: string, err: unknown) => void): Promise<boolean> {
    let ok = true
    for (let step = this.#steps.pop(); step !== undefined; step = this.#steps.pop()) {
      try {
        await step.stop()
      } catch (err) {
        ok = false
        onError(step.name, err)
      }
    }
    return ok
  }
}
