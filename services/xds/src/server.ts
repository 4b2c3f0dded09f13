/**
 * createXdsServer: one xDS replica as a Runner (NATS connection, config store, snapshot cache,
 * convergence responder, ADS gRPC server, admin server), for main.ts and for
 * deploy/src/control-plane.ts.
 */
import { readFileSync } from 'node:fs';
import { AdminServer, RunnerGroup, type Logger, type Runner } from '@shoal/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { SnapshotCache } from './cache.js';
import type { XdsConfig } from './config.js';
import { ConvergenceResponder } from './convergence-nats.js';
import { NatsEventSink } from './events.js';
import { XdsMetrics } from './metrics.js';
import { NodeRegistry } from './nodes.js';
import { AdsServer, type TlsFiles } from './server/ads.js';
import type { ConfigStore } from './store/config-store.js';
import { NatsConfigStore } from './store/nats-config-store.js';

export interface XdsServerDeps {
  readonly logger: Logger;
  /** A NATS connection to use (not closed by the server); otherwise one to cfg.natsUrl. */
  readonly nc?: NatsConnection;
  /** PEM contents instead of reading cfg.tlsCa/tlsCert/tlsKey (tests, a CA service). */
  readonly tls?: TlsFiles;
  /** An admin server to register metrics and readiness on; otherwise one on cfg.adminPort. */
  readonly admin?: AdminServer;
}

export interface XdsServer extends Runner {
  readonly ports: { readonly tls: number; readonly plaintext: number | undefined };
  readonly cache: SnapshotCache;
  readonly nodes: NodeRegistry;
  readonly store: ConfigStore;
  readonly admin: AdminServer;
}

export function createXdsServer(cfg: XdsConfig, deps: XdsServerDeps): XdsServer {
  const logger = deps.logger.child({ component: 'xds', replica: cfg.replica });
  const admin =
    deps.admin ??
    new AdminServer({ host: cfg.adminHost, port: cfg.adminPort, service: 'shoal-xds' });
  const metrics = new XdsMetrics(admin.registry);
  const group = new RunnerGroup(logger);
  let nc: NatsConnection | undefined;
  let ownNc = false;
  let parts:
    { store: ConfigStore; cache: SnapshotCache; nodes: NodeRegistry; ads: AdsServer } | undefined;
  const need = () => {
    if (!parts) throw new Error('the xDS server is not started');
    return parts;
  };
  return {
    name: 'xds',
    get ports() {
      return need().ads.ports;
    },
    get cache() {
      return need().cache;
    },
    get nodes() {
      return need().nodes;
    },
    get store() {
      return need().store;
    },
    admin,
    async start() {
      const tls = deps.tls ?? {
        ca: readFileSync(cfg.tlsCa),
        cert: readFileSync(cfg.tlsCert),
        key: readFileSync(cfg.tlsKey),
      };
      nc = deps.nc;
      if (!nc) {
        nc = await connect({ servers: cfg.natsUrl, name: `shoal-xds-${cfg.replica}` });
        ownNc = true;
      }
      const conn = nc;
      const store = await NatsConfigStore.open(conn, { replicas: cfg.natsReplicas });
      const cache = new SnapshotCache({
        store,
        logger: logger.child({ component: 'xds-cache' }),
        metrics,
        autoAssignNewest: cfg.autoAssignNewest,
      });
      const sink = new NatsEventSink(conn, logger.child({ component: 'xds-events' }));
      const nodes = new NodeRegistry(cfg.replica, sink, logger, metrics);
      const ads = new AdsServer({
        listen: cfg.listen,
        plaintextListen: cfg.plaintextListen,
        tls,
        trustDomain: cfg.trustDomain,
        replica: cfg.replica,
        cache,
        nodes,
        logger: logger.child({ component: 'xds-ads' }),
        metrics,
      });
      parts = { store, cache, nodes, ads };
      admin.addReadinessCheck('nats', () =>
        conn.isClosed() ? Promise.reject(new Error('NATS connection closed')) : Promise.resolve(),
      );
      const runners: Runner[] = [
        cache,
        new ConvergenceResponder(conn, cfg.replica, nodes, logger),
        ads,
        {
          name: 'xds-event-flush',
          start: () => Promise.resolve(),
          close: () => sink.flush(),
        },
      ];
      if (!deps.admin) runners.push(admin);
      await group.start(runners);
      logger.info(
        { listen: cfg.listen, tlsPort: ads.ports.tls, plaintextPort: ads.ports.plaintext },
        'xDS server listening',
      );
    },
    async close() {
      await group.close();
      if (ownNc) await nc?.close();
    },
  };
}
