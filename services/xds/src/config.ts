import { hostname } from 'node:os';
import { setting, loadConfig, type ConfigOf, type ConfigSource } from '@shoal/common';

export const XDS_CONFIG = {
  listen: setting.hostPort('mutual-TLS ADS listener', {
    env: 'SHOAL_XDS_LISTEN',
    flag: 'listen',
    default: '127.0.0.1:15010',
  }),
  plaintextListen: setting.optionalString(
    'opt-in plaintext ADS listener for proxyless gRPC clients (host:port); they get only the ' +
      "cluster's proxyless config. Off when empty; keep it on loopback unless you must",
    { env: 'SHOAL_XDS_PLAINTEXT_LISTEN', flag: 'plaintext-listen' },
  ),
  tlsCa: setting.string('CA certificate (PEM file) that signs node client certificates', {
    env: 'SHOAL_XDS_TLS_CA',
    flag: 'tls-ca',
  }),
  tlsCert: setting.string('server certificate (PEM file)', {
    env: 'SHOAL_XDS_TLS_CERT',
    flag: 'tls-cert',
  }),
  tlsKey: setting.string('server private key (PEM file)', {
    env: 'SHOAL_XDS_TLS_KEY',
    flag: 'tls-key',
  }),
  trustDomain: setting.string('SPIFFE trust domain of node identities', {
    env: 'SHOAL_TRUST_DOMAIN',
    flag: 'trust-domain',
    default: 'shoal.local',
  }),
  natsUrl: setting.url('NATS server', ['nats:', 'tls:'], {
    env: 'NATS_URL',
    flag: 'nats-url',
    default: 'nats://127.0.0.1:4222',
  }),
  natsReplicas: setting.int('JetStream replicas of the xDS buckets', {
    env: 'SHOAL_XDS_BUCKET_REPLICAS',
    flag: 'bucket-replicas',
    min: 1,
    max: 5,
    default: 1,
  }),
  autoAssignNewest: setting.bool(
    'assign the newest published config version of each cluster (until rollouts assign them)',
    { env: 'SHOAL_XDS_AUTO_ASSIGN_NEWEST', flag: 'auto-assign-newest', default: false },
  ),
  replica: setting.string('name of this replica (in events, metrics and convergence answers)', {
    env: 'SHOAL_XDS_REPLICA',
    flag: 'replica',
    default: `${hostname()}-${process.pid}`,
    defaultLabel: ' (default: <hostname>-<pid>)',
  }),
  adminHost: setting.string('admin server host (/healthz /readyz /metrics)', {
    env: 'SHOAL_XDS_ADMIN_HOST',
    flag: 'admin-host',
    default: '127.0.0.1',
  }),
  adminPort: setting.port('admin server port (0: any free port)', {
    env: 'SHOAL_XDS_ADMIN_PORT',
    flag: 'admin-port',
    default: 15014,
  }),
};

export type XdsConfig = ConfigOf<typeof XDS_CONFIG>;

export function loadXdsConfig(source?: ConfigSource): XdsConfig {
  return loadConfig('shoal-xds', XDS_CONFIG, source);
}
