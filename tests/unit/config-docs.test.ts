import { readFileSync } from 'node:fs'
import { expect } from 'chai'
import type convict from 'convict'
import { renderConfigDocs } from '../../shared/config/config-docs.js'
import { configEntries, gatewayConfigSchema } from '../../shared/config/schema.js'

describe('configuration docs', () => {
  it('docs/configuration.md is up to date (npm run build && npm run docs:config)', () => {
    // Compiled to dist/tests/unit/, so the repository root is three levels up.
    const committed = readFileSync(
      new URL('../../../docs/configuration.md', import.meta.url),
      'utf8',
    )
    expect(committed).to.equal(renderConfigDocs(gatewayConfigSchema))
  })

  it('documents every setting with a GATEWAY_ variable and a doc string', () => {
    const entries = configEntries(gatewayConfigSchema)
    const envs = entries.map((e) => e.env)
    expect(new Set(envs).size, 'variable names are unique').to.equal(entries.length)
    for (const entry of entries) {
      expect(entry.env, entry.key).to.match(/^GATEWAY_[A-Z0-9_]+$/)
      expect(entry.doc?.length ?? 0, `${entry.key} doc`).to.be.greaterThan(20)
    }
    const docs = renderConfigDocs(gatewayConfigSchema)
    for (const entry of entries) expect(docs).to.contain(`| \`${entry.env}\` | \`${entry.key}\` |`)
  })

  it('masks sensitive defaults and renders formats and cells safely', () => {
    const schema: convict.Schema<{ a: { key: string; level: string; mode: string } }> = {
      a: {
        key: {
          doc: 'k',
          format: String,
          default: 'hunter2hunter2hunter2',
          env: 'X_KEY',
          sensitive: true,
        },
        level: {
          doc: 'line one\nline two | piped',
          format: ['x', 'y'],
          default: 'x',
          env: 'X_LEVEL',
        },
        mode: { doc: 'm', format: 'port', default: 'p', env: 'X_MODE' },
      },
    }
    const docs = renderConfigDocs(schema)
    expect(docs).not.to.contain('hunter2')
    expect(docs).to.contain('| `X_KEY` | `a.key` | (secret) | string | k |')
    expect(docs).to.contain(
      '| `X_LEVEL` | `a.level` | `"x"` | one of: x, y | line one line two \\| piped |',
    )
    expect(docs).to.contain('| `X_MODE` | `a.mode` | `"p"` | port | m |')
    expect(renderConfigDocs(schema)).to.equal(docs)
  })
})
