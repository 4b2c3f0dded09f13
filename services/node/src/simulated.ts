import type { CaClient } from '@shoal/ca';
import { Spiffe, type Logger } from '@shoal/common';
import { TypeUrls } from '@shoal/proto';
import { Supervisor } from './actors/index.js';
import { certManagerActor, type CertMsg } from './certs/actor.js';
import { buildL4State } from './l4/model.js';
import { compileL7 } from './l7/compile.js';
import { xdsClientActor, type XdsConfig, type XdsDump, type XdsMsg } from './xds/client.js';

export interface SimulatedNodeConfig {
  readonly cluster: string;
  readonly node: string;
  readonly trustDomain: string;
  readonly xdsAddress: string;
  readonly joinToken: string;
  /** A CA client; many simulated nodes of one process share one. */
  readonly ca: Pick<CaClient, 'join' | 'renewNode' | 'signWorkload'>;
  readonly logger: Logger;
}

export interface SimulatedNode {
  readonly cluster: string;
  readonly node: string;
  /** The xDS client's view: connected, version held, ACK/NACK counts and messages. */
  xds(): Promise<XdsDump>;
  close(): Promise<void>;
}

/**
 * A simulated node, for fleets larger than the machine can run node processes for
 * (`npm start -- --clusters N --nodes M`). It is the control-plane half of a real node: it joins
 * with a one-time token and gets its node certificate from the CA, holds a Delta ADS stream over
 * mutual TLS, and validates every config it receives with the same compile a real node runs
 * (L4 workloads and authorization, L7 listeners, routes, clusters, endpoints, secrets): a config
 * a real node would NACK, this one NACKs with the same message. It serves no traffic and asks
 * for no workload certificates.
 */
export async function startSimulatedNode(cfg: SimulatedNodeConfig): Promise<SimulatedNode> {
  const logger = cfg.logger.child({ cluster: cfg.cluster, node: cfg.node, simulated: true });
  const sup = new Supervisor({ name: `sim-${cfg.cluster}-${cfg.node}`, logger });
  const nodeId = Spiffe.node(cfg.trustDomain, cfg.cluster, cfg.node);
  const certs = sup.spawn<CertMsg>(
    'cert-manager',
    certManagerActor({
      ca: cfg.ca,
      trustDomain: cfg.trustDomain,
      cluster: cfg.cluster,
      node: cfg.node,
      joinToken: cfg.joinToken,
    }),
  );
  const xds = sup.spawn<XdsMsg>(
    'xds-client',
    xdsClientActor({
      address: cfg.xdsAddress,
      trustDomain: cfg.trustDomain,
      cluster: cfg.cluster,
      node: cfg.node,
      nodeSpiffeId: nodeId,
      apply: (candidate) => Promise.resolve(validateConfig(candidate)),
    }),
  );
  certs.tell({ kind: 'subscribe', ref: xds });
  return {
    cluster: cfg.cluster,
    node: cfg.node,
    xds: () => xds.ask<XdsDump>((reply) => ({ kind: 'dump', reply })),
    close: () => sup.stopAll(),
  };
}

/** Throws ConfigRejectedError for a config a real node would reject (→ NACK). */
export function validateConfig(candidate: XdsConfig): void {
  const values = (t: string) =>
    new Map([...(candidate.get(t) ?? [])].map(([k, v]) => [k, v.value]));
  buildL4State(values(TypeUrls.address), values(TypeUrls.authorization));
  compileL7({
    listeners: values(TypeUrls.listener),
    routes: values(TypeUrls.route),
    clusters: values(TypeUrls.cluster),
    endpoints: values(TypeUrls.endpoint),
    secrets: values(TypeUrls.secret),
  });
}
