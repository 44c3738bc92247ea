import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'

// Compiled to dist/tests/unit/, so the repository root is three levels up.
const readRepo = (file: string): string =>
  readFileSync(fileURLToPath(new URL(`../../../${file}`, import.meta.url)), 'utf8')

interface Instruction {
  readonly keyword: string
  readonly args: string
}

interface Stage {
  /** Base image with build args substituted. */
  readonly image: string
  readonly name: string | undefined
  readonly instructions: Instruction[]
}

/** Instructions of a Dockerfile: comments dropped, continuation lines joined. */
function instructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const space = line.search(/\s/)
      return {
        keyword: (space === -1 ? line : line.slice(0, space)).toUpperCase(),
        args: space === -1 ? '' : line.slice(space + 1).trim(),
      }
    })
}

/** Splits the instructions into build stages, substituting global ARG defaults in FROM. */
function stages(all: Instruction[]): Stage[] {
  const args = new Map<string, string>()
  const result: Stage[] = []
  for (const instruction of all) {
    if (instruction.keyword === 'FROM') {
      const [image = '', as, name] = instruction.args
        .replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, arg: string) => args.get(arg) ?? '')
        .split(/\s+/)
      result.push({ image, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] })
    } else if (result.length === 0 && instruction.keyword === 'ARG') {
      const [key = '', value = ''] = instruction.args.split('=')
      args.set(key, value)
    } else {
      result.at(-1)?.instructions.push(instruction)
    }
  }
  return result
}

/** Exec-form (JSON array) arguments of CMD/ENTRYPOINT; shell form is rejected. */
function execForm(instruction: Instruction | undefined): string[] {
  if (instruction === undefined) return []
  expect(instruction.args, `${instruction.keyword} uses the exec (JSON) form`).to.match(/^\[/)
  return JSON.parse(instruction.args) as string[]
}

describe('Dockerfile', () => {
  const all = instructions(readRepo('Dockerfile'))
  const built = stages(all)
  const runtime = built.at(-1) as Stage
  const find = (stage: Stage, keyword: string) =>
    stage.instructions.filter((i) => i.keyword === keyword)

  it('is multi-stage: a build stage and a runtime stage', () => {
    expect(built.length).to.be.at.least(2)
    const build = built.find((s) => s.name === 'build')
    expect(build, 'a stage named build').not.to.equal(undefined)
    const runs = find(build as Stage, 'RUN').map((i) => i.args)
    expect(
      runs.some((r) => /\bnpm ci\b/.test(r)),
      'build: npm ci',
    ).to.equal(true)
    expect(
      runs.some((r) => /\bnpm run build\b/.test(r)),
      'build: npm run build',
    ).to.equal(true)
  })

  it('builds on the Node LTS that CI tests and engines names, with glibc (Debian), never Alpine', () => {
    // .ci/run runs the tests on NODE_VERSION; package.json's engines is `^<major>.<minor>.0`.
    const ciVersion = /^NODE_VERSION=(\d+\.\d+\.\d+)$/m.exec(readRepo('.ci/run'))?.[1] ?? ''
    const engines = (JSON.parse(readRepo('package.json')) as { engines: { node: string } }).engines
    const range = /^\^(\d+)\.(\d+)\.0$/.exec(engines.node)
    const [major, minor] = ciVersion.split('.').map(Number)
    expect(range, `engines.node ${engines.node}`).to.not.equal(null)
    expect(major, 'CI major = engines major').to.equal(Number(range?.[1]))
    expect(minor, 'CI minor >= engines minor').to.be.at.least(Number(range?.[2]))
    // Even majors are the LTS lines.
    expect((major ?? 1) % 2, 'an LTS line').to.equal(0)
    for (const stage of built) {
      expect(stage.image).to.match(/^node:\d+(\.\d+)*-(bookworm|bullseye)(-slim)?$/)
      expect(stage.image).to.equal(`node:${ciVersion}-bookworm-slim`)
      expect(stage.image).not.to.match(/alpine|musl/i)
    }
  })

  it('installs production dependencies only, without install scripts, in the runtime stage', () => {
    const installs = find(runtime, 'RUN').filter((i) => /\bnpm (ci|install|i)\b/.test(i.args))
    expect(installs).to.have.length(1)
    const install = installs[0]?.args ?? ''
    expect(install).to.match(/\bnpm ci\b/)
    expect(install).to.contain('--omit=dev')
    expect(install).to.contain('--ignore-scripts')
    const env = find(runtime, 'ENV').map((i) => i.args)
    expect(
      env.some((e) => /\bNODE_ENV[= ]production\b/.test(e)),
      'NODE_ENV=production',
    ).to.equal(true)
  })

  it('copies the compiled dist/ from the build stage and nothing else of the sources', () => {
    const copies = find(runtime, 'COPY').map((i) => i.args)
    expect(copies).to.deep.include('--from=build /app/dist ./dist')
    for (const copy of copies) {
      if (copy.startsWith('--from=')) continue
      // Only the manifests come from the context (no `COPY . .` in the runtime image).
      expect(copy, copy).to.match(/^package\.json package-lock\.json \.\/$/)
    }
  })

  it('runs as a non-root user', () => {
    const users = find(runtime, 'USER').map((i) => i.args)
    expect(users.length).to.be.greaterThan(0)
    expect(users.at(-1)).not.to.match(/^(root|0)(:|$)/)
    // USER comes before the command it applies to.
    const index = (keyword: string) => runtime.instructions.findIndex((i) => i.keyword === keyword)
    expect(index('USER')).to.be.lessThan(index('CMD'))
  })

  it('starts compiled JavaScript with node, without a TypeScript loader, and stops on SIGTERM', () => {
    const cmd = execForm(find(runtime, 'CMD').at(-1))
    const entrypoint = execForm(find(runtime, 'ENTRYPOINT').at(-1))
    const command = [...entrypoint, ...cmd]
    expect(command[0]).to.equal('node')
    expect(command.at(-1)).to.match(/^dist\/.+\.js$/)
    expect(command.join(' ')).not.to.match(/ts-node|tsx|--loader|--import|strip-types|\.ts\b/)
    const scripts = (JSON.parse(readRepo('package.json')) as { scripts: Record<string, string> })
      .scripts
    expect(Object.values(scripts)).to.include(command.join(' '))
    expect(find(runtime, 'STOPSIGNAL').map((i) => i.args)).to.deep.equal(['SIGTERM'])
  })
})

describe('.dockerignore', () => {
  const patterns = readRepo('.dockerignore')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))

  it('keeps node_modules, dist, .git and .env out of the build context', () => {
    expect(patterns).to.include.members(['node_modules', 'dist', '.git', '.env'])
  })

  it('keeps what the build needs', () => {
    const needed = ['package.json', 'package-lock.json', 'tsconfig.json', 'shared', 'proxy']
    for (const path of [...needed, 'registrar', 'scripts', 'types']) {
      const excluded = patterns.some(
        (p) => !p.startsWith('!') && (p === path || p === `${path}/` || p === '*' || p === '**'),
      )
      expect(excluded, path).to.equal(false)
    }
  })
})
