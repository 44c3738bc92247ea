import { expect } from 'chai'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { CRASH_EXIT_CODE } from '../../shared/process/crash-only.js'

// A child process with the handlers installed, then one uncaught error of the given kind.
async function crash(kind: 'throw' | 'reject'): Promise<{ code: number | null; lines: string[] }> {
  const module = new URL('../../shared/process/crash-only.js', import.meta.url).href
  const logModule = new URL('../../shared/log/create-logger.js', import.meta.url).href
  const fault =
    kind === 'throw'
      ? "setImmediate(() => { throw new Error('boom') })"
      : "void Promise.reject(new Error('boom'))"
  const script = [
    `const { crashOnUncaught } = await import(${JSON.stringify(module)})`,
    `const { createLogger } = await import(${JSON.stringify(logModule)})`,
    "crashOnUncaught(createLogger({ level: 'info', name: 'crash-test' }))",
    fault,
    'setTimeout(() => {}, 10_000)',
  ].join('\n')
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, lines: out.split('\n').filter(Boolean) }
}

describe('crashOnUncaught (crash-only last resort)', function () {
  this.timeout(10_000)

  it('logs an uncaught exception at fatal with UNCAUGHT_EXCEPTION and exits non-zero', async () => {
    const { code, lines } = await crash('throw')
    expect(code).to.equal(CRASH_EXIT_CODE)
    const fatal = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.level === 60)
    expect(fatal?.code).to.equal('UNCAUGHT_EXCEPTION')
    expect((fatal?.err as { message?: string }).message).to.equal('boom')
  })

  it('logs an unhandled rejection with UNHANDLED_REJECTION and exits non-zero', async () => {
    const { code, lines } = await crash('reject')
    expect(code).to.equal(CRASH_EXIT_CODE)
    const fatal = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.level === 60)
    expect(fatal?.code).to.equal('UNHANDLED_REJECTION')
  })
})
