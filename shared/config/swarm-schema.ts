import type convict from 'convict'
import type { GatewayConfig } from './gateway-config.js'

/** Pool of worker connections: timeouts, health checks, reconnects. */
export const poolSchema: convict.Schema<GatewayConfig['pool']> = {
  joinTopic: {
    doc: 'Also join the discovery topic as a client, connecting to every announcing worker (legacy behaviour). Registered peers are dialled directly either way.',
    format: 'bool',
    default: false,
    env: 'GATEWAY_POOL_JOIN_TOPIC',
  },
  requestTimeoutMs: {
    doc: 'Deadline of one request to a worker, in ms (legacy: 30000).',
    format: 'positive-int',
    default: 30000,
    env: 'GATEWAY_POOL_REQUEST_TIMEOUT_MS',
  },
  healthIntervalMs: {
    doc: 'Pause between health checks of a connected worker, in ms.',
    format: 'positive-int',
    default: 5000,
    env: 'GATEWAY_POOL_HEALTH_INTERVAL_MS',
  },
  healthTimeoutMs: {
    doc: 'Deadline of one health check, in ms (legacy: 5000).',
    format: 'positive-int',
    default: 5000,
    env: 'GATEWAY_POOL_HEALTH_TIMEOUT_MS',
  },
  unhealthyAfter: {
    doc: 'Consecutive failed health checks before a worker is marked unhealthy.',
    format: 'positive-int',
    default: 2,
    env: 'GATEWAY_POOL_UNHEALTHY_AFTER',
  },
  downAfter: {
    doc: 'Consecutive failed health checks before the connection is dropped and redialled.',
    format: 'positive-int',
    default: 4,
    env: 'GATEWAY_POOL_DOWN_AFTER',
  },
  openTimeoutMs: {
    doc: 'Longest wait for a dial plus channel handshake, in ms.',
    format: 'positive-int',
    default: 20000,
    env: 'GATEWAY_POOL_OPEN_TIMEOUT_MS',
  },
  probeIntervalMs: {
    doc:
      'Pause between link probes of a worker connection, in ms: one empty encrypted frame the ' +
      "worker's transport acknowledges, so a killed or frozen worker is noticed in seconds at about " +
      'one small frame per interval (workers need nothing new).',
    format: 'positive-int',
    default: 1000,
    env: 'GATEWAY_POOL_PROBE_INTERVAL_MS',
  },
  probeTimeoutMs: {
    doc: 'A link probe not acknowledged within this long drops the connection (failover), in ms.',
    format: 'positive-int',
    default: 1500,
    env: 'GATEWAY_POOL_PROBE_TIMEOUT_MS',
  },
  idleTimeoutMs: {
    doc: 'Close a worker connection no session or request used for this long, in ms.',
    format: 'positive-int',
    default: 120000,
    env: 'GATEWAY_POOL_IDLE_TIMEOUT_MS',
  },
  backoffMinMs: {
    doc: 'First reconnect delay after a worker connection fails, in ms; doubles per attempt, with jitter.',
    format: 'positive-int',
    default: 500,
    env: 'GATEWAY_POOL_BACKOFF_MIN_MS',
  },
  backoffMaxMs: {
    doc: 'Longest reconnect delay, in ms.',
    format: 'positive-int',
    default: 30000,
    env: 'GATEWAY_POOL_BACKOFF_MAX_MS',
  },
}

/** The gateway's own DHT node and swarm. */
export const hyperswarmSchema: convict.Schema<GatewayConfig['hyperswarm']> = {
  bootstrap: {
    doc:
      'Comma-separated host:port list of DHT bootstrap nodes, e.g. 10.0.0.5:49737,dht.example.org:49737 ' +
      '(in a config file: the same string or an array of {"host", "port"} objects). Empty: the public ' +
      'HyperDHT bootstrap nodes.',
    format: 'host-port-list',
    default: [],
    env: 'GATEWAY_HYPERSWARM_BOOTSTRAP',
  },
  host: {
    doc: 'IPv4 address the DHT node binds to. Empty: the library default (all interfaces).',
    format: 'ipv4-or-empty',
    default: '',
    env: 'GATEWAY_HYPERSWARM_HOST',
  },
  seed: {
    doc:
      'Seed of the gateway swarm key pair: 64 hex characters (32 bytes). Set it to keep the same ' +
      'public key across restarts. Empty: a new random key pair on every start.',
    format: 'hex32-or-empty',
    default: '',
    env: 'GATEWAY_HYPERSWARM_SEED',
    sensitive: true,
  },
  port: {
    doc:
      'Fixed UDP port of the DHT node, so a firewall or NAT can publish it (compose.yaml publishes ' +
      'it on the proxy). 0: the library default (49737, or a free neighbour or random port when taken; ' +
      'fine behind NAT when hole punching works).',
    format: 'port',
    default: 0,
    env: 'GATEWAY_HYPERSWARM_PORT',
  },
  reachable: {
    doc:
      'true when GATEWAY_HYPERSWARM_PORT is reachable from the internet (published through the NAT or ' +
      'firewall): the node then runs unfirewalled and workers connect straight to it, without hole ' +
      'punching. Checked at start-up; a claim the DHT does not confirm is logged as a warning and the ' +
      'node falls back to firewalled operation. Needs a non-zero port.',
    format: 'bool',
    default: false,
    env: 'GATEWAY_HYPERSWARM_REACHABLE',
  },
  relays: {
    doc:
      'Comma-separated public keys (64 hex) of blind relays (the blind-relay protocol over HyperDHT) ' +
      'the pool retries through when a direct connection fails (hole punching between two NATs). ' +
      'Published to workers in GET /api/gateway. The relay this gateway offers is never dialled ' +
      'through by itself (a worker that can reach it can take a direct dial); empty: no retry.',
    format: 'hex32-list',
    default: [],
    env: 'GATEWAY_HYPERSWARM_RELAYS',
  },
  relayServer: {
    doc:
      'Offer a blind relay on this DHT node (its key is derived from GATEWAY_HYPERSWARM_SEED and ' +
      'published in GET /api/gateway). Useful on a reachable node; other gateways and workers can ' +
      'then relay through it when hole punching fails.',
    format: 'bool',
    default: false,
    env: 'GATEWAY_HYPERSWARM_RELAY_SERVER',
  },
}
