import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { SignJWT, importJWK } from 'jose';
import { storeHandlers } from '@shoal/api';
import { createAgent, agentConfigSpec, type Agent } from '@shoal/agent';
import { EventStore } from '@shoal/db';
import { loadConfig, tcpReachable, type Logger, type Runner } from '@shoal/common';
import { parseManifests, type MeshResource } from '@shoal/model';
import { nodeWorkerArgs } from '@shoal/node';
import { rolloutCommands } from '@shoal/workflows';
import type { ControlPlaneHandles } from '../control-plane.js';
import { ManagedProcess } from '../stack/process.js';
import { startApp, type AppSpec } from './apps.js';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
export const DEMO_DIR = join(REPO, 'deploy', 'examples', 'demo');

export interface DemoNode {
  readonly cluster: string;
  readonly node: string;
  readonly ip: string;
  readonly adminPort: number;
  readonly outboundOctet: number;
}

export interface DemoOptions {
  readonly dataDir: string;
  readonly natsUrl: string;
  readonly trustDomain: string;
  readonly logger: Logger;
  readonly handles: () => ControlPlaneHandles;
  readonly examplesDir?: string;
  /** How long to wait for the first rollout to complete. */
  readonly firstRolloutTimeoutMs?: number;
}

export interface DemoFleet extends Runner {
  readonly nodes: () => readonly DemoNode[];
  /** A JWT the reviews route accepts (signed with the demo key). */
  readonly demoToken: () => string;
  readonly ingress: () => string;
  readonly firstRollout: () => { version: string; state: string } | undefined;
  /** Stop or start one node worker process (fault demos and tests). */
  stopNode(node: string): Promise<void>;
  startNode(node: string): Promise<void>;
  stopAgent(site: string): Promise<void>;
  startAgent(site: string): Promise<void>;
}

/** The agent of one demo site: reads its manifest folder, buffers under the data folder. */
export function siteAgent(o: {
  site: string;
  manifestDir: string;
  natsUrl: string;
  dataDir: string;
  logger: Logger;
}): Agent {
  return createAgent(
    loadConfig('demo-agent', agentConfigSpec, {
      argv: [
        '--cluster',
        o.site,
        '--source',
        'manifest-dir',
        '--manifest-dir',
        o.manifestDir,
        '--nats-url',
        o.natsUrl,
        '--buffer-dir',
        join(o.dataDir, 'agents', o.site),
        '--heartbeat-interval',
        '5s',
        '--rescan-interval',
        '5s',
      ],
      env: {},
    }),
    { logger: o.logger },
  );
}

function readSite(dir: string): MeshResource[] {
  const out: MeshResource[] = [];
  for (const f of readdirSync(dir)
    .filter((n) => /\.ya?ml$/.test(n))
    .sort()) {
    const res = parseManifests(readFileSync(join(dir, f), 'utf8'), join(dir, f));
    if (res.issues.length > 0)
      throw new Error(`demo manifests are invalid: ${JSON.stringify(res.issues[0])}`);
    out.push(...res.resources.map((r) => r.resource));
  }
  return out;
}

/**
 * The demo fleet of `npm start`: the fleet-wide config applied through the API's write path,
 * one agent per site reading its manifest folder, one node worker process per node (joined with
 * a one-time token), and small sample apps on the workloads' loopback addresses. It waits for
 * the first rollout to complete.
 */
export function demoFleet(opts: DemoOptions): DemoFleet {
  const log = opts.logger.child({ component: 'demo' });
  const base = opts.examplesDir ?? DEMO_DIR;
  const sites = readdirSync(base)
    .filter((n) => !['fleet', 'changes'].includes(n) && statSync(join(base, n)).isDirectory())
    .sort();
  const siteResources = new Map(sites.map((s) => [s, readSite(join(base, s))]));
  const nodes: DemoNode[] = [];
  for (const site of sites) {
    const names = new Set<string>();
    for (const r of siteResources.get(site)!)
      if (r.kind === 'Workload') names.add((r.spec as { node: string }).node);
    for (const node of [...names].sort()) {
      const i = nodes.length;
      nodes.push({
        cluster: site,
        node,
        ip: `127.0.10.${i + 1}`,
        adminPort: 15100 + i,
        outboundOctet: 100 + i,
      });
    }
  }
  const agents = new Map<string, Agent>();
  const procs = new Map<string, ManagedProcess>();
  const apps: Server[] = [];
  let token = '';
  let first: { version: string; state: string } | undefined;
  const ingressUrl = 'http://127.0.20.10:8080';

  const makeAgent = (site: string) =>
    siteAgent({
      site,
      manifestDir: join(base, site),
      natsUrl: opts.natsUrl,
      dataDir: opts.dataDir,
      logger: log,
    });

  const nodeProcess = (n: DemoNode): ManagedProcess => {
    const h = opts.handles();
    const joinToken = randomBytes(24).toString('base64url');
    h.joinTokens.add(joinToken, { cluster: n.cluster, node: n.node });
    return new ManagedProcess(
      {
        name: `node-${n.node}`,
        command: process.execPath,
        args: [
          ...nodeWorkerArgs(),
          '--cluster',
          n.cluster,
          '--node',
          n.node,
          '--trust-domain',
          opts.trustDomain,
          '--node-ip',
          n.ip,
          '--admin-port',
          String(n.adminPort),
          '--outbound-octet',
          String(n.outboundOctet),
          '--ca',
          h.caAddress,
          '--xds',
          h.xdsAddress,
          '--trust-bundle',
          join(opts.dataDir, 'pki', 'ca.crt'),
          '--join-token',
          joinToken,
          '--nats',
          opts.natsUrl,
          '--stats-interval',
          '2s',
        ],
        cwd: REPO,
        env: { LOG_FORMAT: 'json', LOG_LEVEL: process.env.SHOAL_NODE_LOG_LEVEL ?? 'warn' },
        runDir: join(opts.dataDir, 'nodes'),
        ready: () => tcpReachable(n.ip, n.adminPort, 300),
        readyTimeoutMs: 60_000,
      },
      log,
    );
  };

  async function applyFleet(h: ControlPlaneHandles) {
    const dir = join(base, 'fleet');
    const manifests = readdirSync(dir)
      .filter((n) => /\.ya?ml$/.test(n))
      .sort()
      .flatMap((f) =>
        parseManifests(readFileSync(join(dir, f), 'utf8'), f).resources.map((r) => ({
          file: f,
          document: r.document,
          json: JSON.stringify(r.resource),
        })),
      );
    const api = storeHandlers({ store: new EventStore(h.pool), pool: h.pool, writer: h.writer });
    await api.Apply!(
      { manifests, cluster: '', reason: 'demo fleet: fleet-wide config' },
      { actor: 'system:demo', role: 'admin', method: 'token' },
    );
  }

  /**
   * Wait until the rollout of the newest compiled version has finished (sites keep reporting
   * for a moment after start, so earlier versions are superseded). Reads the rollout scope's
   * record of finished rollouts; every Temporal call has a deadline.
   */
  async function waitForFirstRollout(h: ControlPlaneHandles) {
    const deadline = Date.now() + (opts.firstRolloutTimeoutMs ?? 180_000);
    for (;;) {
      const latest = h.controller.latest;
      if (latest) {
        const scope = await h.temporal.connection
          .withDeadline(Date.now() + 3000, () =>
            rolloutCommands.scope(h.temporal, h.controller.rolloutScope),
          )
          .catch((err: Error) => {
            log.debug({ err: err.message }, 'rollout scope not available yet');
            return undefined;
          });
        const done = scope?.finished.find((f) => f.rolloutId === latest.rolloutId);
        if (done && latest.version === h.controller.latest?.version) {
          first = { version: latest.version, state: done.status };
          if (done.status !== 'completed') {
            log.warn(
              { rolloutId: latest.rolloutId, status: done.status, reason: done.reason },
              'the first rollout did not complete',
            );
          }
          return;
        }
      }
      if (Date.now() > deadline) {
        first = { version: latest?.version ?? '-', state: 'still running' };
        log.warn(
          { rolloutId: latest?.rolloutId },
          'the first rollout did not finish in time; Shoal keeps running',
        );
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /**
   * Nodes ACK config before every workload certificate has arrived; wait until requests through
   * the ingress and the waypoint succeed several times in a row, so the printed curl works.
   */
  async function waitForTraffic(timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    let ok = 0;
    while (ok < 10 && Date.now() < deadline) {
      const [a, b] = await Promise.all([
        fetch(`${ingressUrl}/`, { signal: AbortSignal.timeout(3000) })
          .then((r) => r.status)
          .catch(() => 0),
        fetch(`${ingressUrl}/reviews`, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(3000),
        })
          .then((r) => r.status)
          .catch(() => 0),
      ]);
      ok = a === 200 && b === 200 ? ok + 1 : 0;
      if (ok === 0) await new Promise((r) => setTimeout(r, 250));
    }
    if (ok < 10)
      log.warn(
        'traffic through the ingress does not succeed yet; the data plane is still warming up',
      );
  }

  return {
    name: 'demo-fleet',
    nodes: () => nodes,
    demoToken: () => token,
    ingress: () => ingressUrl,
    firstRollout: () => first,
    async start() {
      const h = opts.handles();
      const key = JSON.parse(
        readFileSync(join(base, 'demo-jwt-signing-key.json'), 'utf8'),
      ) as Record<string, string>;
      token = await new SignJWT({ sub: 'demo-user', role: 'reader' })
        .setProtectedHeader({ alg: 'ES256', kid: 'demo' })
        .setIssuer('https://demo.shoal.local')
        .setAudience('shop')
        .setIssuedAt()
        .setExpirationTime('30d')
        .sign(await importJWK(key, 'ES256'));
      writeFileSync(join(opts.dataDir, 'demo.jwt'), `${token}\n`, { mode: 0o600 });
      await applyFleet(h);
      for (const site of sites) {
        mkdirSync(join(opts.dataDir, 'agents', site), { recursive: true });
        const a = makeAgent(site);
        await a.start();
        agents.set(site, a);
      }
      await Promise.all(
        nodes.map(async (n) => {
          const p = nodeProcess(n);
          await p.start();
          procs.set(n.node, p);
        }),
      );
      for (const site of sites) {
        const res = siteResources.get(site)!;
        for (const r of res) {
          if (r.kind !== 'Workload') continue;
          const labels = r.metadata.labels ?? {};
          const app = labels.app;
          if (app !== 'web' && app !== 'reviews') continue;
          const spec = r.spec as { address: string; node: string };
          const node = nodes.find((n) => n.cluster === site && n.node === spec.node)!;
          const s: AppSpec = {
            workload: r.metadata.name,
            app,
            version: labels.version ?? 'v1',
            address: spec.address,
            port: app === 'web' ? 8080 : 9080,
            outboundOctet: node.outboundOctet,
          };
          apps.push(await startApp(s));
        }
      }
      await waitForFirstRollout(h);
      await waitForTraffic();
    },
    async close() {
      for (const a of apps) a.close();
      await Promise.all([...procs.values()].map((p) => p.stop()));
      for (const a of agents.values()) await a.close();
    },
    async stopNode(node) {
      await procs.get(node)?.stop();
      procs.delete(node);
    },
    async startNode(node) {
      const n = nodes.find((x) => x.node === node);
      if (!n || procs.has(node)) return;
      const p = nodeProcess(n);
      await p.start();
      procs.set(node, p);
    },
    async stopAgent(site) {
      await agents.get(site)?.close();
      agents.delete(site);
    },
    async startAgent(site) {
      if (agents.has(site) || !existsSync(join(base, site))) return;
      const a = makeAgent(site);
      await a.start();
      agents.set(site, a);
    },
  };
}
