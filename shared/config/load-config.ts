import { readFileSync } from 'node:fs'
import convict from 'convict'
import { ErrorCode, GatewayError } from '../errors.js'
import type { ErrorCodeName } from '../errors.js'
import { EDGE_VARIABLES } from './edge-variables.js'
import { CONFIG_FILE_ENV, configEntries, gatewayConfigSchema } from './schema.js'
import type { ConfigEntry, GatewayConfig } from './schema.js'

/** Environment variables as the caller sees them (e.g. `process.env`, or a test's literal). */
export type ConfigEnv = Readonly<Record<string, string | undefined>>

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Environment to read `GATEWAY_*` variables from. Never defaults to `process.env`. */
  env: ConfigEnv
  /** JSON config file; takes precedence over `env.GATEWAY_CONFIG`. */
  file?: string
  /**
   * Told once per `GATEWAY_*` variable in `env` that is neither a setting nor an edge variable
   * (usually a typo, which would otherwise leave the default in force without a word).
   */
  warn?: (message: string) => void
}

/** One reason a configuration was rejected, listed in `CONFIG_INVALID` error details. */
export interface ConfigProblem {
  /** Environment variable of the offending entry (`GATEWAY_CONFIG` for file-level problems). */
  readonly variable: string
  /** Dotted schema key, or the unknown key found in the file. */
  readonly key: string
  readonly message: string
  readonly code: ErrorCodeName
}

// Formats whose env coercion is convict's parseInt, which silently accepts "8080abc".
const PARSE_INT_FORMATS = new Set(['port', 'nat', 'int', 'integer'])
const INTEGER_TEXT = /^[+-]?\d+$/

const entries = configEntries(gatewayConfigSchema)
const entryByKey = new Map(entries.map((e) => [e.key, e]))
const SETTING_VARIABLES = entries.flatMap((e) => (e.env === undefined ? [] : [e.env]))
const KNOWN_VARIABLES = new Set([...SETTING_VARIABLES, CONFIG_FILE_ENV, ...EDGE_VARIABLES])
const PREFIX = 'GATEWAY_'

/**
 * Builds the gateway configuration from defaults, then the JSON file named by `file` or
 * `env.GATEWAY_CONFIG`, then `env` (environment wins over the file). Command-line arguments and
 * `process.env` are never read.
 *
 * @returns A deeply frozen plain object.
 * @throws GatewayError `CONFIG_INVALID` naming every offending variable; its `details.problems`
 *   lists them as {@link ConfigProblem}s.
 */
export function loadConfig(options: LoadConfigOptions): GatewayConfig {
  const env = { ...options.env }
  if (options.warn !== undefined) {
    for (const text of unknownVariableWarnings(env)) options.warn(text)
  }
  const requested = options.file ?? env[CONFIG_FILE_ENV]
  const file = requested === undefined || requested === '' ? undefined : requested
  const fileData = file === undefined ? undefined : readConfigFile(file)

  const config = buildConvict(env, file, fileData)
  const problems = [
    ...checkIntegerText(env, file, fileData),
    ...validate(config, env, file, fileData),
  ]
  if (problems.length > 0) throw configError(dedupe(problems))
  return deepFreeze(config.getProperties())
}

/**
 * One message per `GATEWAY_*` name in `env` that no setting or edge variable has, naming the
 * closest known setting when one is a likely typo away.
 */
export function unknownVariableWarnings(env: ConfigEnv): string[] {
  const warnings: string[] = []
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(PREFIX) || KNOWN_VARIABLES.has(name)) continue
    const near = closest(name)
    const hint = near === undefined ? '' : ` (did you mean ${near}?)`
    warnings.push(`unknown variable ${name} is ignored${hint}; docs/configuration.md lists them`)
  }
  return warnings
}

// A known name within a few edits (a typo, a dropped or swapped word part), if any.
function closest(name: string): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(3, Math.floor(name.length / 5)) + 1
  for (const known of KNOWN_VARIABLES) {
    const distance = editDistance(name, known)
    if (distance < bestDistance) [best, bestDistance] = [known, distance]
  }
  return best
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution)
    }
    previous = current
  }
  return previous[b.length] ?? 0
}

function buildConvict(
  env: Record<string, string | undefined>,
  file: string | undefined,
  fileData: Record<string, unknown> | undefined,
): convict.Config<GatewayConfig> {
  let config: convict.Config<GatewayConfig>
  try {
    // `args: []` keeps convict from parsing process.argv; `env` likewise replaces process.env.
    config = convict(gatewayConfigSchema, { env, args: [] })
  } catch (err) {
    // Only a throwing coercer gets here; ours never throw, so this guards future formats.
    throw new GatewayError(
      ErrorCode.CONFIG_INVALID,
      `Invalid configuration: the environment could not be applied: ${message(err)}`,
      { cause: err },
    )
  }
  if (file === undefined || fileData === undefined) return config
  try {
    // load() overlays the file, then re-imports the environment: env wins over the file.
    config.load(fileData)
  } catch (err) {
    // convict throws a TypeError when the file replaces a group with a scalar (or vice versa).
    throw fileError(file, `does not match the configuration schema: ${message(err)}`, err)
  }
  config.set('configFile', file)
  return config
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw fileError(file, `cannot be read: ${message(err)}`, err)
  }
  let data: unknown
  try {
    data = text.trim() === '' ? {} : JSON.parse(text)
  } catch (err) {
    throw fileError(file, `is not valid JSON: ${message(err)}`, err)
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw fileError(file, 'must contain a JSON object')
  }
  return data as Record<string, unknown>
}

function checkIntegerText(
  env: Record<string, string | undefined>,
  file: string | undefined,
  fileData: Record<string, unknown> | undefined,
): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  for (const entry of entries) {
    if (typeof entry.format !== 'string' || !PARSE_INT_FORMATS.has(entry.format)) continue
    const fromEnv = entry.env === undefined ? undefined : env[entry.env]
    const raw = fromEnv ?? (fileData === undefined ? undefined : lookup(fileData, entry.key))
    if (typeof raw !== 'string' || INTEGER_TEXT.test(raw)) continue
    const shown = entry.sensitive ? '' : `: value was ${JSON.stringify(raw)}`
    const source = fromEnv === undefined ? file : undefined
    problems.push(problem(entry, entry.key, `must be a whole number${shown}`, source))
  }
  return problems
}

// convict reports all failures as one Error whose lines read "<key>: <reason>" or
// "configuration param '<key>' not declared in the schema"; map each back to its variable.
function validate(
  config: convict.Config<GatewayConfig>,
  env: Record<string, string | undefined>,
  file: string | undefined,
  fileData: Record<string, unknown> | undefined,
): ConfigProblem[] {
  try {
    config.validate({ allowed: 'strict' })
    return []
  } catch (err) {
    return message(err)
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => lineToProblem(line, env, file, fileData))
  }
}

function lineToProblem(
  line: string,
  env: Record<string, string | undefined>,
  file: string | undefined,
  fileData: Record<string, unknown> | undefined,
): ConfigProblem {
  const param = /^configuration param '(.+)' (not declared in the schema|missing from config)/.exec(
    line,
  )
  if (param) {
    const key = param[1] ?? ''
    const reason = param[2]?.startsWith('not declared') ? 'unknown key' : 'missing or replaced key'
    return fileProblem(file, key, `${reason} "${key}"`)
  }
  const separator = line.indexOf(': ')
  const entry = separator === -1 ? undefined : entryByKey.get(line.slice(0, separator))
  if (!entry) return fileProblem(file, '', line)
  const reason = line.slice(separator + 2)
  const fromEnv = entry.env !== undefined && env[entry.env] !== undefined
  const fromFile = !fromEnv && fileData !== undefined && lookup(fileData, entry.key) !== undefined
  const code = entry.failureCode ?? ErrorCode.CONFIG_INVALID
  return problem(entry, entry.key, reason, fromFile ? file : undefined, code)
}

function problem(
  entry: ConfigEntry | undefined,
  key: string,
  reason: string,
  file?: string,
  code: ErrorCodeName = ErrorCode.CONFIG_INVALID,
): ConfigProblem {
  const variable = entry?.env ?? CONFIG_FILE_ENV
  const where = file === undefined ? key : `${key}, set in config file ${file}`
  return { variable, key, message: `${variable} (${where}): ${reason}`, code }
}

function fileProblem(file: string | undefined, key: string, reason: string): ConfigProblem {
  const where = file === undefined ? '' : ` (${file})`
  return {
    variable: CONFIG_FILE_ENV,
    key,
    message: `${CONFIG_FILE_ENV}${where}: ${reason}`,
    code: ErrorCode.CONFIG_INVALID,
  }
}

function fileError(file: string, reason: string, cause?: unknown): GatewayError {
  const found = fileProblem(file, '', `config file ${reason}`)
  return new GatewayError(ErrorCode.CONFIG_INVALID, `Invalid configuration: ${found.message}`, {
    cause,
    details: { problems: [found] },
  })
}

function configError(problems: ConfigProblem[]): GatewayError {
  const text = problems.map((p) => p.message).join('; ')
  return new GatewayError(ErrorCode.CONFIG_INVALID, `Invalid configuration: ${text}`, {
    details: { problems },
  })
}

// The integer check and convict may both flag one key (e.g. "" is not a whole number and also
// NaN); the first, more specific message wins.
function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>()
  return problems.filter((p) => {
    const id = `${p.variable}\0${p.key}`
    if (seen.has(id)) return false
    seen.add(id)
    return true
  })
}

function lookup(data: Record<string, unknown>, key: string): unknown {
  let node: unknown = data
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) return undefined
    node = (node as Record<string, unknown>)[part]
  }
  return node
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
