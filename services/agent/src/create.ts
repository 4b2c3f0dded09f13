import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { nkeyAuthenticator } from '@nats-io/transport-node';
import { Subjects, type Logger } from '@shoal/common';
import { Agent } from './agent.js';
import type { AgentConfig } from './config.js';
import { PgReportedState, type ReportedStateSource } from './reported-state.js';
import { KubeSource } from './sources/kube.js';
import type { KubeKind } from './sources/kube-kinds.js';
import { ManifestDirSource } from './sources/manifest-dir.js';
import type { ManifestProblem, ManifestValidator } from './sources/manifest-validator.js';
import type { Source } from './sources/source.js';

export interface AgentDeps {
  readonly logger: Logger;
  /** Instead of loading cfg.kubeconfig (tests pass one pointing at their fake API server). */
  readonly kubeConfig?: KubeConfig;
  readonly kubeKinds?: readonly KubeKind[];
  readonly validator?: ManifestValidator;
  readonly reportedState?: ReportedStateSource;
  readonly onManifestProblems?: (file: string, problems: readonly ManifestProblem[]) => void;
  readonly now?: () => Date;
  readonly ackTimeoutMs?: number;
}

/** Build an agent Runner from its config (main.ts, the demo fleet, tests). */
export function createAgent(cfg: AgentConfig, deps: AgentDeps): Agent {
  const logger = deps.logger.child({ cluster: cfg.cluster });
  let source: Source;
  if (cfg.source === 'manifest-dir') {
    source = new ManifestDirSource({
      dir: cfg.manifestDir!,
      logger,
      rescanMs: cfg.rescanMs,
      ...(deps.validator ? { validator: deps.validator } : {}),
      ...(deps.onManifestProblems ? { onProblems: deps.onManifestProblems } : {}),
    });
  } else {
    source = new KubeSource({
      kubeConfig: deps.kubeConfig ?? loadKubeConfig(cfg),
      logger,
      ...(deps.kubeKinds ? { kinds: deps.kubeKinds } : {}),
    });
  }
  const seed = cfg.nkeySeedFile ? readFileSync(cfg.nkeySeedFile, 'utf8').trim() : undefined;
  const reportedState =
    deps.reportedState ?? (cfg.storeUrl ? new PgReportedState(cfg.storeUrl) : undefined);
  return new Agent(
    {
      cluster: cfg.cluster,
      bufferDir: cfg.bufferDir ?? join('.shoal', 'agent', cfg.cluster),
      natsUrl: cfg.natsUrl,
      inboxPrefix: Subjects.agentInbox(cfg.cluster),
      heartbeatMs: cfg.heartbeatMs,
      publishWindow: cfg.publishWindow,
      logger,
      ...(seed ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)) } : {}),
      ...(reportedState ? { reportedState } : {}),
      ...(deps.now ? { now: deps.now } : {}),
      ...(deps.ackTimeoutMs ? { ackTimeoutMs: deps.ackTimeoutMs } : {}),
    },
    [source],
  );
}

function loadKubeConfig(cfg: AgentConfig): KubeConfig {
  const kc = new KubeConfig();
  if (cfg.kubeconfig) kc.loadFromFile(cfg.kubeconfig);
  else kc.loadFromDefault();
  if (cfg.kubeContext) kc.setCurrentContext(cfg.kubeContext);
  return kc;
}
