/**
 * `GATEWAY_*` variables that are not gateway settings: the Caddyfile reads them (compose.yaml
 * hands them to Caddy only). Known here so that start-up does not report them as typos where
 * one environment serves both, as on a single host.
 */
export const EDGE_VARIABLES: readonly string[] = [
  'GATEWAY_DOMAIN',
  'GATEWAY_ACME_EMAIL',
  'GATEWAY_PROXY_UPSTREAMS',
  'GATEWAY_REGISTRAR_UPSTREAMS',
  'GATEWAY_HSTS_INCLUDE_SUBDOMAINS',
]
