import type { Registration } from '../shared/store/gateway-store.js'
import { escapeHtml, page } from './status-page.js'

/** What a relay's page says about its worker. */
export interface RelayPageFacts {
  registration: Registration
  /** The relay's WebSocket URL without any token. */
  wsUrl: string
  /** A worker of this relay has a ready link from this proxy. */
  reachable: boolean
  /** The relay's NIP-11 document (the worker's own, or built from the registration). */
  info: Record<string, unknown>
  /** Connected workers and how sessions reach each: a raw tunnel or relay-v2. */
  workers?: ReadonlyArray<{ key: string; mode: 'tunnel' | 'relay-v2' }>
}

const text = (value: unknown): string | null =>
  typeof value === 'string' && value !== '' ? value : null

/**
 * The page a browser gets at a relay's URL: whether its worker is reachable, how to connect (the
 * share-URL form with a placeholder, never a token) and its NIP-11 facts.
 */
export function relayPage(facts: RelayPageFacts): string {
  const { registration, info } = facts
  const name = text(info.name) ?? text(registration.metadata.name) ?? 'Hypertuna relay'
  const description = text(info.description)
  const nips = Array.isArray(info.supported_nips) ? info.supported_nips.join(', ') : null
  const limitation = (info.limitation ?? {}) as Record<string, unknown>
  const rows: Array<[string, string, string | null]> = [
    [
      'nip11-software',
      'Software',
      [text(info.software), text(info.version)].filter(Boolean).join(' ') || null,
    ],
    ['nip11-nips', 'Supported NIPs', nips],
    ['nip11-contact', 'Contact', text(info.contact)],
    [
      'nip11-auth',
      'Authentication',
      limitation.auth_required === true
        ? 'required'
        : limitation.auth_required === false
          ? 'not required'
          : null,
    ],
    [
      'nip11-max-message',
      'Largest message',
      typeof limitation.max_message_length === 'number'
        ? `${limitation.max_message_length} bytes`
        : null,
    ],
  ]
  const facts11 = rows
    .filter((row): row is [string, string, string] => row[2] !== null)
    .map(([id, label, value]) => `<dt>${label}</dt><dd id="${id}">${escapeHtml(value)}</dd>`)
    .join('\n')
  const reachability = facts.reachable
    ? '<span class="ok">reachable</span>: its worker is online.'
    : '<span class="bad">not reachable</span> right now: its worker is offline or still connecting.'
  return page(
    name,
    `<h1 id="relay-name">${escapeHtml(name)}</h1>
${description === null ? '' : `<p id="relay-description">${escapeHtml(description)}</p>`}
<p id="worker-status">This relay is ${reachability}</p>
${workerModes(facts.workers ?? [])}
<p>It is a Nostr relay hosted by its owner over Hypertuna and published through this gateway.
Connect a Nostr client to</p>
<p><code id="share-url">${escapeHtml(facts.wsUrl)}?token=&lt;your token&gt;</code></p>
<p>Access needs a token from the relay's owner.</p>
<h2>Relay information (NIP-11)</h2>
<dl>
${facts11}
</dl>`,
  )
}

// Key prefixes only: the full keys are in the registration, and the page is public.
function workerModes(workers: ReadonlyArray<{ key: string; mode: string }>): string {
  if (workers.length === 0) return ''
  const items = workers
    .map((w) => `<li><code>${escapeHtml(w.key.slice(0, 12))}…</code>: ${escapeHtml(w.mode)}</li>`)
    .join('')
  return `<p>Sessions reach its workers by:</p><ul id="worker-modes">${items}</ul>`
}
