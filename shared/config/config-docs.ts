import type convict from 'convict'
import { CONFIG_FILE_ENV, configEntries } from './schema.js'
import type { ConfigEntry } from './schema.js'

const HEADER = `<!--
  Generated from shared/config/schema.ts by scripts/gen-config-docs.ts. Do not edit by hand:
  change the schema, then run \`npm run build && npm run docs:config\`.
-->

# Configuration

This file is generated from the configuration schema (\`shared/config/schema.ts\`). To regenerate
it, run \`npm run build && npm run docs:config\`; a unit test fails while it is stale.

Settings come from, in increasing order of precedence: the defaults below, the JSON file named by
\`${CONFIG_FILE_ENV}\`, then environment variables. A config file uses the keys below as nested
objects, for example \`{"proxy": {"port": 8080}, "registration": {"ttl": 600}}\`. An unknown key or
an invalid value stops the gateway at start-up with a \`CONFIG_INVALID\` error that names every
offending variable.

Defaults shown as (secret) belong to sensitive settings, which the gateway never prints.
`

/**
 * Renders a convict schema as a Markdown reference: one table row per setting, in schema order,
 * with sensitive defaults masked. Output depends only on the schema, so it can be diffed.
 */
export function renderConfigDocs<T>(schema: convict.Schema<T>): string {
  const rows = configEntries(schema).map((entry) =>
    [
      entry.env === undefined ? '' : code(entry.env),
      code(entry.key),
      entry.sensitive ? '(secret)' : code(JSON.stringify(entry.default) ?? 'undefined'),
      formatLabel(entry),
      entry.doc ?? '',
    ]
      .map(cell)
      .join(' | '),
  )
  const table = [
    '| Environment variable | Key | Default | Format | Description |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row} |`),
  ]
  return `${HEADER}\n${table.join('\n')}\n`
}

function formatLabel(entry: ConfigEntry): string {
  const { format } = entry
  if (typeof format === 'string') return format
  if (Array.isArray(format)) return `one of: ${format.map((v) => String(v)).join(', ')}`
  if (typeof format === 'function') {
    // Built-in constructors (String, Number, ...) are how convict spells plain types.
    return [String, Number, Boolean, Array, Object, RegExp].includes(format as never)
      ? (format as { name: string }).name.toLowerCase()
      : 'custom'
  }
  return typeof entry.default
}

function code(text: string): string {
  return `\`${text}\``
}

// A Markdown table cell cannot hold a line break or a bare pipe.
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|')
}
