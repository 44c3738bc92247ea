// `hypertuna-gateway/worker`: the kit for writing a worker (README, "Writing your own worker").
export { RelayHost } from './relay-host.js'
export type { RelayHostOptions } from './relay-host.js'
export type { FileResponse, HostedRelay, RelayBackend } from './relay-backend.js'
export { WsRelayBackend } from './ws-relay-backend.js'
export type { WsRelayBackendOptions, WsRelayBackendStats } from './ws-relay-backend.js'
export { ExampleRelay } from './example-relay.js'
export { RegistrarClient } from './registrar-client.js'
export type {
  IssueTokenOptions,
  RegisterResult,
  RegistrarClientOptions,
  RelayToRegister,
  TokenGrant,
  UnregisterResult,
} from './registrar-client.js'
export { RegistrarRequestError } from './registrar-request-error.js'
export { shareUrl } from './share-url.js'
export { createSwarm } from '../swarm/create-swarm.js'
export type { CreateSwarmOptions } from '../swarm/create-swarm.js'
export { TunnelHost } from '../tunnel/tunnel-host.js'
export type { TunnelHostOptions, TunnelTarget } from '../tunnel/tunnel-host.js'
export { httpService, wsService } from '../tunnel/tunnel-wire.js'
