import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { renderConfigDocs } from '../shared/config/config-docs.js'
import { gatewayConfigSchema } from '../shared/config/schema.js'

// Compiled to dist/scripts/, so the repository root is two levels up.
const target = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url))

mkdirSync(dirname(target), { recursive: true })
writeFileSync(target, renderConfigDocs(gatewayConfigSchema))
console.log(`wrote ${target}`)
