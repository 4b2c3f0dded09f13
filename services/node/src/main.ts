/**
 * shoal-node: one node worker process. Configuration from flags / environment (see README.md).
 */
import { readFileSync } from 'node:fs';
import {
  createLogger,
  helpText,
  loadConfig,
  setting,
  wantsHelp,
  type ConfigOf,
} from '@shoal/common';
import { startNode } from './node.js';

const spec = {
  cluster: setting.string('cluster this node belongs to', {
    flag: 'cluster',
    env: 'SHOAL_CLUSTER',
  }),
  node: setting.string('node name', { flag: 'node', env: 'SHOAL_NODE' }),
  trustDomain: setting.string('SPIFFE trust domain', {
    flag: 'trust-domain',
    env: 'SHOAL_TRUST_DOMAIN',
    default: 'cluster.local',
  }),
  nodeIp: setting.string('loopback IP of this node (admin port)', {
    flag: 'node-ip',
    env: 'SHOAL_NODE_IP',
    default: '127.0.0.1',
  }),
  adminPort: setting.port('admin port (/ready, /metrics, /config_dump)', {
    flag: 'admin-port',
    env: 'SHOAL_NODE_ADMIN_PORT',
    default: 15000,
  }),
  hbonePort: setting.port('HBONE port on every local workload IP', {
    flag: 'hbone-port',
    env: 'SHOAL_HBONE_PORT',
    default: 15008,
  }),
  outboundOctet: setting.int('second octet of outbound listener addresses (127.<n>.x.y)', {
    flag: 'outbound-octet',
    env: 'SHOAL_OUTBOUND_OCTET',
    min: 1,
    max: 254,
    default: 100,
  }),
  caAddress: setting.hostPort('CA address', { flag: 'ca', env: 'SHOAL_CA_ADDRESS' }),
  trustBundle: setting.string('path of the CA root certificate (PEM)', {
    flag: 'trust-bundle',
    env: 'SHOAL_TRUST_BUNDLE',
  }),
  joinToken: setting.string('one-time join token for this node', {
    flag: 'join-token',
    env: 'SHOAL_JOIN_TOKEN',
  }),
  xdsAddress: setting.hostPort('xDS server address', { flag: 'xds', env: 'SHOAL_XDS_ADDRESS' }),
  natsUrl: setting.optionalString('NATS URL for stats reports (optional)', {
    flag: 'nats',
    env: 'NATS_URL',
  }),
  statsInterval: setting.duration('stats report interval', {
    flag: 'stats-interval',
    env: 'SHOAL_STATS_INTERVAL',
    default: 10_000,
  }),
};

if (wantsHelp()) {
  process.stdout.write(
    helpText(
      'shoal-node',
      'shoal-node --cluster C --node N --ca H:P --xds H:P --trust-bundle F --join-token T',
      spec,
    ),
  );
  process.exit(0);
}

const logger = createLogger({ service: 'node' });
let cfg: ConfigOf<typeof spec>;
try {
  cfg = loadConfig('shoal-node', spec);
} catch (err) {
  logger.fatal((err as Error).message);
  process.exit(2);
}
// A bug in a socket callback must not take the data plane down: log it and keep serving.
process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception'));
process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));

const node = await startNode({
  ...cfg,
  trustBundlePem: readFileSync(cfg.trustBundle, 'utf8'),
  statsIntervalMs: cfg.statsInterval,
  logger,
});
const stop = (sig: string) => {
  logger.info({ signal: sig }, 'shutting down');
  node.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
