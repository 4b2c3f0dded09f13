import { CaClient } from '@shoal/ca';
import { Spiffe, createLogger, type Logger } from '@shoal/common';
import { TypeUrls } from '@shoal/proto';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { NodeAdmin } from './admin.js';
import { Supervisor } from './actors/index.js';
import { certManagerActor, type CertMsg } from './certs/actor.js';
import type { CertSet } from './hbone/identity.js';
import { EMPTY_L4, buildL4State, type L4State } from './l4/model.js';
import { DataplaneStats } from './stats.js';
import { statsReporterActor } from './stats-reporter.js';
import { xdsClientActor, type XdsConfig, type XdsMsg } from './xds/client.js';
import { compileL7 } from './l7/compile.js';
import { hostedWaypoints, waypointView } from './waypoint/hosting.js';
import { EMPTY_L7, type L7Snapshot } from './l7/model.js';
import { waypointActor, type WaypointDump } from './waypoint/actor.js';
import type { HostedWaypoint } from './waypoint/hosting.js';
import type { L7View } from './l7/proxy.js';
import { ProxyHost } from './l7/host.js';
import { gatewayActor, type GatewayDump } from './gateway/actor.js';
import {
  gatewayView,
  hostedGateways,
  type GatewayView,
  type HostedGateway,
} from './gateway/hosting.js';
import { localWorkloads, ztunnelActor, type ZtunnelMsg } from './ztunnel/actor.js';

export interface NodeConfig {
  readonly cluster: string;
  readonly node: string;
  readonly trustDomain: string;
  /** The node's own loopback IP (admin port). */
  readonly nodeIp: string;
  readonly adminPort: number;
  readonly hbonePort: number;
  /** Second octet of this node's outbound listener addresses, 127.<octet>.x.y. */
  readonly outboundOctet: number;
  readonly caAddress: string;
  readonly trustBundlePem: string;
  readonly joinToken: string;
  readonly xdsAddress: string;
  readonly natsUrl?: string;
  readonly statsIntervalMs: number;
  readonly logger?: Logger;
}

export interface RunningNode {
  readonly adminPort: number;
  readonly supervisor: Supervisor;
  dump(): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Start a node worker: a supervisor with the cert manager, ztunnel, xDS client and stats
 * reporter actors, and the admin port. Actors talk by messages only; this function wires them.
 */
export async function startNode(cfg: NodeConfig): Promise<RunningNode> {
  const logger = (cfg.logger ?? createLogger({ service: 'node' })).child({
    cluster: cfg.cluster,
    node: cfg.node,
  });
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'node', cluster: cfg.cluster, node: cfg.node });
  collectDefaultMetrics({ register: registry });
  const stats = new DataplaneStats(registry);
  const escalated: string[] = [];
  const sup = new Supervisor({
    name: 'node',
    logger,
    registry,
    onEscalate: (a) => escalated.push(a),
  });
  const nodeId = Spiffe.node(cfg.trustDomain, cfg.cluster, cfg.node);
  let haveNodeCert = false;
  let applied = false;
  let latestCerts: CertSet | undefined;
  let l4State: L4State = EMPTY_L4;
  let l7State: L7Snapshot = EMPTY_L7;
  const waypoints = new ProxyHost<HostedWaypoint, L7View, WaypointDump>(sup, {
    prefix: 'waypoint',
    certs: () => latestCerts,
    actor: (wp, latest) =>
      waypointActor({ ...wp, hbonePort: cfg.hbonePort, stats, latest, self: cfg }),
  });
  const gateways = new ProxyHost<HostedGateway, GatewayView, GatewayDump>(sup, {
    prefix: 'gateway',
    certs: () => latestCerts,
    actor: (gw, latest) => gatewayActor({ ...gw, stats, latest, self: cfg }),
  });

  const ca = new CaClient({
    address: cfg.caAddress,
    trustDomain: cfg.trustDomain,
    trustBundlePem: cfg.trustBundlePem,
  });
  const ztunnel = sup.spawn<ZtunnelMsg>(
    'ztunnel',
    ztunnelActor({
      cluster: cfg.cluster,
      node: cfg.node,
      hbonePort: cfg.hbonePort,
      outboundOctet: cfg.outboundOctet,
      stats,
    }),
  );
  const certs = sup.spawn<CertMsg>(
    'cert-manager',
    certManagerActor({
      ca,
      trustDomain: cfg.trustDomain,
      cluster: cfg.cluster,
      node: cfg.node,
      joinToken: cfg.joinToken,
      onCerts: (c: CertSet) => {
        haveNodeCert = c.byIdentity.has(nodeId);
        latestCerts = c;
        waypoints.certs(c);
        gateways.certs(c);
      },
    }),
  );

  // Validate everything first (pure compiles that throw ConfigRejectedError → NACK), then hand
  // the result to the ztunnel and waypoint actors; a failure anywhere keeps the old config.
  const apply = async (candidate: XdsConfig, typeUrl: string, version: string) => {
    const l4Changed = typeUrl === TypeUrls.address || typeUrl === TypeUrls.authorization;
    const l4 = l4Changed
      ? buildL4State(
          mapValues(candidate.get(TypeUrls.address)),
          mapValues(candidate.get(TypeUrls.authorization)),
        )
      : l4State;
    const l7 = L7_TYPES.has(typeUrl)
      ? compileL7({
          listeners: mapValues(candidate.get(TypeUrls.listener)),
          routes: mapValues(candidate.get(TypeUrls.route)),
          clusters: mapValues(candidate.get(TypeUrls.cluster)),
          endpoints: mapValues(candidate.get(TypeUrls.endpoint)),
          secrets: mapValues(candidate.get(TypeUrls.secret)),
        })
      : l7State;
    if (l4Changed) {
      await ztunnel.ask<void>((reply) => ({ kind: 'config', state: l4, reply }), 10_000);
      const ids = localWorkloads(l4, cfg).map((w) => ({
        namespace: w.namespace,
        serviceAccount: w.serviceAccount,
      }));
      certs.tell({ kind: 'workloads', identities: ids });
    }
    await waypoints.reconcile(
      hostedWaypoints(l4, cfg).map((wp) => ({
        hosted: wp,
        view: waypointView(wp, l7, l4, version),
      })),
    );
    await gateways.reconcile(
      hostedGateways(l4, l7, cfg).map((gw) => ({
        hosted: gw,
        view: gatewayView(gw, l7, l4, version),
      })),
    );
    l4State = l4;
    l7State = l7;
    // Mesh certificates come from the CA; SDS Secrets are gateway TLS certificates (compiled
    // and checked above, served by the gateway actors).
    stats.setVersion(version);
    applied = true;
  };
  const xds = sup.spawn<XdsMsg>(
    'xds-client',
    xdsClientActor({
      address: cfg.xdsAddress,
      trustDomain: cfg.trustDomain,
      cluster: cfg.cluster,
      node: cfg.node,
      nodeSpiffeId: nodeId,
      apply,
    }),
  );
  sup.spawn(
    'stats-reporter',
    statsReporterActor({
      natsUrl: cfg.natsUrl,
      cluster: cfg.cluster,
      node: cfg.node,
      intervalMs: cfg.statsIntervalMs,
      stats,
    }),
  );
  certs.tell({ kind: 'subscribe', ref: ztunnel });
  certs.tell({ kind: 'subscribe', ref: xds });

  const dump = async () => ({
    node: nodeId,
    xds: await xds.ask((reply) => ({ kind: 'dump', reply })).catch((e: Error) => e.message),
    ztunnel: await ztunnel.ask((reply) => ({ kind: 'dump', reply })).catch((e: Error) => e.message),
    waypoints: await waypoints.dump(),
    gateways: await gateways.dump(),
    actors: sup.status(),
  });
  const admin = new NodeAdmin({
    host: cfg.nodeIp,
    port: cfg.adminPort,
    registry,
    dump,
    ready: () => {
      if (escalated.length > 0)
        return { ready: false, reason: `actors stopped: ${escalated.join(', ')}` };
      if (!haveNodeCert) return { ready: false, reason: 'waiting for the node certificate' };
      if (!applied) return { ready: false, reason: 'waiting for the first config' };
      return { ready: true, reason: 'ready' };
    },
  });
  await admin.start();
  logger.info({ admin: `${cfg.nodeIp}:${admin.port}` }, 'node started');
  return {
    adminPort: admin.port,
    supervisor: sup,
    dump,
    async close() {
      await admin.close();
      await sup.stopAll();
    },
  };
}

const L7_TYPES: ReadonlySet<string> = new Set([
  TypeUrls.secret,
  TypeUrls.listener,
  TypeUrls.route,
  TypeUrls.cluster,
  TypeUrls.endpoint,
]);

function mapValues(
  m: ReadonlyMap<string, { value: Uint8Array }> | undefined,
): Map<string, Uint8Array> {
  return new Map([...(m ?? [])].map(([k, v]) => [k, v.value]));
}
