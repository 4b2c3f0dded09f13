import { ConfigError, loadConfig, setting, type ConfigOf, type ConfigSource } from '@shoal/common';
import { assertSubjectToken } from '@shoal/common';

export const agentConfigSpec = {
  cluster: setting.string('name of the cluster or edge site this agent reports for', {
    flag: 'cluster',
    env: 'SHOAL_AGENT_CLUSTER',
    parse: (raw) => assertSubjectToken('cluster', raw),
  }),
  source: setting.oneOf('what to watch', ['kube', 'manifest-dir'] as const, {
    flag: 'source',
    env: 'SHOAL_AGENT_SOURCE',
    default: 'kube',
  }),
  manifestDir: setting.optionalString('folder of YAML manifests (with --source manifest-dir)', {
    flag: 'manifest-dir',
    env: 'SHOAL_AGENT_MANIFEST_DIR',
  }),
  kubeconfig: setting.optionalString('kubeconfig file (default: in-cluster, then ~/.kube/config)', {
    flag: 'kubeconfig',
    env: 'KUBECONFIG',
  }),
  kubeContext: setting.optionalString('kubeconfig context to use (default: current)', {
    flag: 'kube-context',
    env: 'SHOAL_AGENT_KUBE_CONTEXT',
  }),
  natsUrl: setting.url('NATS server(s)', ['nats:', 'tls:'], {
    flag: 'nats-url',
    env: 'NATS_URL',
    default: 'nats://127.0.0.1:4222',
  }),
  nkeySeedFile: setting.optionalString(
    "file holding this cluster's NATS nkey seed (deploy/nats/generate.ts writes one per cluster)",
    { flag: 'nkey-seed-file', env: 'SHOAL_AGENT_NKEY_SEED_FILE' },
  ),
  bufferDir: setting.optionalString('folder for the on-disk event buffer (must survive restarts)', {
    flag: 'buffer-dir',
    env: 'SHOAL_AGENT_BUFFER_DIR',
    defaultLabel: ' (default: .shoal/agent/<cluster>)',
  }),
  heartbeatMs: setting.duration('interval between ClusterHeartbeat events', {
    flag: 'heartbeat-interval',
    env: 'SHOAL_AGENT_HEARTBEAT_INTERVAL',
    default: 15_000,
  }),
  rescanMs: setting.duration('full rescan period of the manifest folder', {
    flag: 'rescan-interval',
    env: 'SHOAL_AGENT_RESCAN_INTERVAL',
    default: 30_000,
  }),
  publishWindow: setting.int('most publishes awaiting a JetStream ack at once', {
    flag: 'publish-window',
    env: 'SHOAL_AGENT_PUBLISH_WINDOW',
    default: 256,
    min: 1,
    max: 10_000,
  }),
  storeUrl: setting.optionalString(
    'PostgreSQL URL to read what the store holds when the buffer folder is new (optional)',
    { flag: 'store-url', env: 'SHOAL_AGENT_STORE_URL', defaultLabel: ' (default: none)' },
  ),
};

export type AgentConfig = ConfigOf<typeof agentConfigSpec>;

/** Load and cross-check the agent's configuration; every problem is reported at once. */
export function loadAgentConfig(source: ConfigSource = {}): AgentConfig {
  const cfg = loadConfig('shoal-agent', agentConfigSpec, source);
  if (cfg.source === 'manifest-dir' && !cfg.manifestDir) {
    throw new ConfigError('shoal-agent', [
      {
        setting: '--manifest-dir / SHOAL_AGENT_MANIFEST_DIR',
        problem: 'is required with --source manifest-dir: the folder of YAML files to publish',
      },
    ]);
  }
  return cfg;
}
