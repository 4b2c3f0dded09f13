import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, type Worker } from '@temporalio/worker';
import pg from 'pg';
import {
  ApiServer,
  EventTokenRegistry,
  NatsEventWriter,
  mintToken,
  storeHandlers,
  tokenHandlers,
  tokenIssuedEvent,
} from '@shoal/api';
import {
  CaServer,
  CertificateAuthority,
  InMemoryJoinTokens,
  createCsr,
  generateKeyPair,
} from '@shoal/ca';
import { AdminServer, TaskQueues, setting, type Logger, type Runner } from '@shoal/common';
import {
  ControlPlaneEventPublisher,
  StatsHealth,
  XdsAssigner,
  XdsConvergence,
  createController,
  type Controller,
} from '@shoal/controller';
import { EventStore, migrateDatabase } from '@shoal/db';
import { createIngest, ingestConfig } from '@shoal/ingest';
import { createProjector, projectorConfig } from '@shoal/projector';
import { createRolloutWorker } from '@shoal/workflows';
import { createXdsServer, queryConvergence, type XdsServer } from '@shoal/xds';
import { rolloutHandlers, fleetHandlers } from './api-extra.js';
import type { Stack } from './stack/index.js';

/** Settings of the control plane that `npm start` runs (all on loopback by default). */
export const controlPlaneSettings = {
  apiHost: setting.string('address the API listens on', {
    env: 'SHOAL_API_HOST',
    flag: 'api-host',
    default: '127.0.0.1',
  }),
  apiPort: setting.port('API port (gRPC over TLS)', {
    env: 'SHOAL_API_PORT',
    flag: 'api-port',
    default: 7400,
  }),
  adminPort: setting.port('admin port: /healthz /readyz /metrics', {
    env: 'SHOAL_ADMIN_PORT',
    flag: 'admin-port',
    default: 7401,
  }),
  caPort: setting.port('CA port (gRPC over TLS)', {
    env: 'SHOAL_CA_PORT',
    flag: 'ca-port',
    default: 7402,
  }),
  xdsPort: setting.port('xDS port (ADS over mutual TLS)', {
    env: 'SHOAL_XDS_PORT',
    flag: 'xds-port',
    default: 7403,
  }),
  trustDomain: setting.string('SPIFFE trust domain', {
    env: 'SHOAL_TRUST_DOMAIN',
    flag: 'trust-domain',
    default: 'shoal.local',
  }),
};

export interface ControlPlaneOptions {
  readonly stack: Stack;
  readonly logger: Logger;
  readonly dataDir: string;
  readonly apiHost: string;
  readonly apiPort: number;
  readonly adminPort: number;
  readonly caPort: number;
  readonly xdsPort: number;
  readonly trustDomain: string;
  /** Temporal task queue of the rollout worker (tests use their own). */
  readonly taskQueue?: string;
}

/** What the demo fleet and tests need from a running control plane. */
export interface ControlPlaneHandles {
  readonly ca: CertificateAuthority;
  readonly joinTokens: InMemoryJoinTokens;
  readonly caAddress: string;
  readonly xdsAddress: string;
  readonly apiAddress: string;
  readonly serverId: string;
  readonly controller: Controller;
  readonly xds: XdsServer;
  readonly writer: NatsEventWriter;
  readonly pool: pg.Pool;
  readonly temporal: Client;
  readonly nc: NatsConnection;
  readonly adminToken: string;
}

export interface ControlPlane {
  readonly runners: readonly Runner[];
  /** Lines for the start-up banner: where each service listens. */
  readonly endpoints: () => readonly string[];
  /** Available once every runner has started. */
  readonly handles: () => ControlPlaneHandles;
}

/** The Temporal SDK's logs through pino, at warn and above (its info lines are per-worker noise). */
export function temporalLogger(logger: Logger): DefaultLogger {
  const log = logger.child({ component: 'temporal-sdk' });
  return new DefaultLogger('WARN', (entry) => {
    const level = entry.level === 'ERROR' ? 'error' : 'warn';
    log[level]({ ...entry.meta }, entry.message);
  });
}

/** The controller's rollout scope for the banner; '-' before it has started. */
function scopeOf(c: Controller | undefined): string {
  try {
    return c?.rolloutScope ?? '-';
  } catch {
    return '-';
  }
}

function runner(name: string, start: () => Promise<void>, close: () => Promise<void>): Runner {
  return { name, start, close };
}

async function issue(ca: CertificateAuthority, spiffeId: string, ttlMs: number) {
  const { keys, keyPem } = await generateKeyPair();
  const cert = await ca.sign(await createCsr(keys, spiffeId), spiffeId, ttlMs);
  return { certPem: cert.certChainPem.join('\n'), keyPem };
}

/**
 * Wire the control-plane services, in start order: database schema, ingest (NATS → store), the
 * CA, the xDS server, the controller (store → compile → publish → rollout), the Temporal
 * rollout worker, the API and the admin server. Each service comes from its own package; this
 * function only connects them to the stack and to each other.
 */
export function controlPlane(opts: ControlPlaneOptions): ControlPlane {
  const log = opts.logger;
  const dataDir = resolve(opts.dataDir);
  const pkiDir = join(dataDir, 'pki');
  const td = opts.trustDomain;
  const serverId = `spiffe://${td}/shoal/api`;
  const admin = new AdminServer({
    host: '127.0.0.1',
    port: opts.adminPort,
    service: 'shoal-control-plane',
  });
  const databaseUrl = opts.stack.postgres.url;
  const natsUrl = opts.stack.nats.url;
  // Shorter ack wait than the production default: a restarted local control plane waits out the
  // previous term's deliveries (ack wait + pull expiry) before it ingests again.
  const ingest = createIngest(
    ingestConfig({ natsUrl, databaseUrl, ackWait: 8_000, pullExpires: 2_000 }),
    {
      logger: log,
      registry: admin.registry,
    },
  );
  // The desired-state tables `shoal get` reads, and the snapshots that keep stateAt fast.
  const projector = createProjector(projectorConfig({ databaseUrl }), {
    logger: log,
    registry: admin.registry,
  });
  const joinTokens = new InMemoryJoinTokens();
  type Mutable<T> = { -readonly [K in keyof T]: T[K] };
  const s: Partial<Mutable<Omit<ControlPlaneHandles, 'joinTokens'>>> & {
    caServer?: CaServer;
    api?: ApiServer;
    tokens?: EventTokenRegistry;
    worker?: Worker;
    workerRun?: Promise<void>;
    native?: NativeConnection;
    temporalConn?: Connection;
    health?: StatsHealth;
  } = {};

  const base = runner(
    'base',
    async () => {
      await migrateDatabase(databaseUrl);
      s.pool = new pg.Pool({ connectionString: databaseUrl, max: 8 });
      s.pool.on('error', (err) => log.warn({ err }, 'idle PostgreSQL connection failed'));
      s.nc = await connect({ servers: natsUrl, name: 'shoal-control-plane' });
      s.ca = await CertificateAuthority.loadOrCreate(pkiDir, td);
      s.writer = new NatsEventWriter(s.nc, s.pool);
    },
    async () => {
      s.writer?.close();
      await s.nc?.drain().catch(() => undefined);
      await s.pool?.end();
    },
  );

  const xdsRunner = runner(
    'xds',
    async () => {
      const cert = await issue(s.ca!, `spiffe://${td}/shoal/xds`, 30 * 24 * 3600_000);
      s.xds = createXdsServer(
        {
          listen: `127.0.0.1:${opts.xdsPort}`,
          tlsCa: '',
          tlsCert: '',
          tlsKey: '',
          natsReplicas: 1,
          adminHost: '127.0.0.1',
          plaintextListen: undefined,
          trustDomain: td,
          natsUrl,
          replica: 'local',
          adminPort: 0,
          autoAssignNewest: false,
        },
        {
          logger: log,
          nc: s.nc!,
          admin,
          tls: {
            ca: Buffer.from(s.ca!.rootPem),
            cert: Buffer.from(cert.certPem),
            key: Buffer.from(cert.keyPem),
          },
        },
      );
      await s.xds.start();
      s.xdsAddress = `127.0.0.1:${s.xds.ports.tls}`;
    },
    async () => {
      await s.xds?.close();
    },
  );

  const controllerRunner = runner(
    'controller',
    async () => {
      s.temporalConn = await Connection.connect({ address: opts.stack.temporal.url });
      s.temporal = new Client({
        connection: s.temporalConn,
        namespace: opts.stack.temporalNamespace,
      });
      s.controller = createController({
        databaseUrl,
        nc: s.nc!,
        configStore: s.xds!.store,
        logger: log,
        temporal: s.temporal,
        trustDomain: td,
        connectedNodes: async (cluster) =>
          (await queryConvergence(s.nc!, cluster, '')).nodes.length,
        ...(opts.taskQueue ? { taskQueue: opts.taskQueue } : {}),
      });
      await s.controller.start();
      s.caServer = new CaServer({
        ca: s.ca!,
        registry: s.controller,
        joinTokens,
        host: '127.0.0.1',
        port: opts.caPort,
        nodeCertTtlMs: 24 * 3600_000,
        workloadCertTtlMs: 3600_000,
        logger: log,
        metrics: admin.registry,
      });
      await s.caServer.start();
      s.caAddress = `127.0.0.1:${s.caServer.port}`;
    },
    async () => {
      await s.caServer?.close();
      await s.controller?.close();
      await s.temporalConn?.close();
    },
  );

  const workerRunner = runner(
    'rollout-worker',
    async () => {
      s.health = new StatsHealth(s.nc!);
      s.health.start();
      s.native = await NativeConnection.connect({ address: opts.stack.temporal.url });
      s.worker = await createRolloutWorker({
        connection: s.native,
        namespace: opts.stack.temporalNamespace,
        taskQueue: opts.taskQueue ?? TaskQueues.rollouts,
        deps: {
          assigner: new XdsAssigner(s.xds!.store),
          probe: new XdsConvergence(s.nc!),
          health: s.health,
          events: new ControlPlaneEventPublisher(s.nc!),
          fleet: s.controller!,
        },
      });
      s.workerRun = s.worker.run();
      s.workerRun.catch((err: unknown) => log.error({ err }, 'rollout worker stopped'));
    },
    async () => {
      // The SDK may already be draining (it reacts to signals itself unless told not to).
      if (s.worker?.getState() === 'RUNNING') s.worker.shutdown();
      await s.workerRun?.catch(() => undefined);
      await s.native?.close();
      s.health?.stop();
    },
  );

  const apiRunner = runner(
    'api',
    async () => {
      const cert = await issue(s.ca!, serverId, 30 * 24 * 3600_000);
      s.tokens = new EventTokenRegistry(s.pool!, log);
      await s.tokens.start();
      const h = () => handles();
      s.api = new ApiServer({
        host: opts.apiHost,
        port: opts.apiPort,
        tls: { certChain: cert.certPem, privateKey: cert.keyPem, clientCa: s.ca!.rootPem },
        tokens: s.tokens,
        handlers: {
          ...storeHandlers({
            store: new EventStore(s.pool!),
            pool: s.pool!,
            writer: s.writer!,
            previewNodes: (changes) => s.controller!.previewNodes(changes as never),
          }),
          ...tokenHandlers(s.tokens, s.writer!),
          ...rolloutHandlers(h),
          ...fleetHandlers(h),
          Status: async () => ({ components: await statusOf(opts.stack, admin) }),
        },
        logger: log,
      });
      await s.api.start();
      s.apiAddress = `${opts.apiHost === '0.0.0.0' ? '127.0.0.1' : opts.apiHost}:${s.api.port}`;
      try {
        s.adminToken = await bootstrapAdminToken(
          dataDir,
          s.tokens,
          new NatsEventWriter(s.nc!, s.pool!, 60_000),
          log,
        );
      } catch (err) {
        await s.tokens.stop();
        await s.api.close();
        throw err;
      }
      const cliContext = {
        server: s.apiAddress,
        serverId,
        caFile: 'pki/ca.crt',
        tokenFile: 'admin.token',
      };
      writeFileSync(join(dataDir, 'cli.json'), JSON.stringify(cliContext, null, 2) + '\n');
    },
    async () => {
      await s.api?.close();
      await s.tokens?.stop();
    },
  );

  admin.addReadinessCheck('ingest', () => ingest.ready());
  admin.addReadinessCheck('api', async () => {
    if (!s.api?.port) throw new Error('API not listening');
  });

  const handles = (): ControlPlaneHandles => {
    if (!s.adminToken) throw new Error('the control plane has not started');
    return { ...(s as Required<typeof s>), joinTokens, serverId };
  };

  return {
    runners: [base, ingest, projector, xdsRunner, controllerRunner, workerRunner, apiRunner, admin],
    handles,
    endpoints: () => [
      `api       ${s.apiAddress ?? '-'}  (gRPC over TLS, SPIFFE id ${serverId})`,
      `xds       ${s.xdsAddress ?? '-'}  (ADS, SotW + Delta, mutual TLS)`,
      `ca        ${s.caAddress ?? '-'}  (SPIFFE certificates for nodes and workloads)`,
      `admin     http://127.0.0.1:${opts.adminPort}  (/healthz /readyz /metrics)`,
      `ingest    NATS stream SHOAL_EVENTS -> PostgreSQL (${ingest.isLeader() ? 'leader' : 'standby'})`,
      `rollouts  Temporal ${opts.stack.temporal.url}, task queue ${opts.taskQueue ?? TaskQueues.rollouts}, workflow rollout-scope/${scopeOf(s.controller)}`,
    ],
  };
}

/**
 * On the first start, mint an admin token, record it as an event (the secret's hash only) and
 * write the secret to `<data>/admin.token` (mode 0600), as k3s does with its join token.
 */
async function bootstrapAdminToken(
  dataDir: string,
  tokens: EventTokenRegistry,
  writer: NatsEventWriter,
  log: Logger,
): Promise<string> {
  const file = join(dataDir, 'admin.token');
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    const id = /^shoal_([0-9a-f]{16})_/.exec(token)?.[1];
    if (id && tokens.get(id) && !tokens.get(id)?.revokedAt) return token;
  }
  const { token, record } = mintToken('bootstrap-admin', 'admin', 'system:bootstrap', new Date());
  await writer.submit([
    tokenIssuedEvent(record, 'system:bootstrap', 'first start of the control plane'),
  ]);
  await tokens.refresh();
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  log.info({ file, tokenId: record.id }, 'issued the bootstrap admin token');
  return token;
}

async function statusOf(stack: Stack, admin: AdminServer) {
  const ready = await admin.readiness();
  return [
    { name: 'nats', up: true, detail: stack.nats.url },
    { name: 'postgres', up: true, detail: stack.postgres.url.replace(/:[^:@/]*@/, ':***@') },
    { name: 'temporal', up: true, detail: stack.temporal.url },
    ...Object.entries(ready.checks).map(([name, r]) => ({ name, up: r === 'ok', detail: r })),
  ];
}
