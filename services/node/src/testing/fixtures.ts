/** Test helpers: node worker processes, workload config builders, echo servers, probes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import {
  CaServer,
  CertificateAuthority,
  InMemoryJoinTokens,
  InMemoryWorkloadRegistry,
  createCsr,
  generateKeyPair,
} from '@shoal/ca';
import { silentLogger, waitFor } from '@shoal/common';
import { TypeUrls, encodeMessage } from '@shoal/proto';
import { FakeAdsServer } from './fake-ads-server.js';
import { nodeWorkerArgs } from '../bundle.js';
import { ipToBytes } from '../l4/model.js';

export interface NodeProcess {
  readonly child: ChildProcess;
  readonly adminUrl: string;
  output(): string;
  stop(): Promise<void>;
}

export function spawnNode(
  args: Record<string, string | number>,
  env: Record<string, string> = {},
): NodeProcess {
  const argv = Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)]);
  // The pre-built worker, as `npm start` runs it (see bundle.ts).
  const child = spawn(process.execPath, [...nodeWorkerArgs(), ...argv], {
    env: {
      ...process.env,
      LOG_FORMAT: 'json',
      LOG_LEVEL: process.env.NODE_LOG_LEVEL ?? 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return {
    child,
    adminUrl: `http://${args['node-ip']}:${args['admin-port']}`,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

export interface WorkloadSpec {
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly ip: string;
  readonly node: string;
  readonly cluster: string;
  readonly trustDomain: string;
  /** "<ns>/<hostname>" → [servicePort, targetPort][] */
  readonly services?: Record<string, [number, number][]>;
  readonly waypointIp?: string;
}

export function workloadResource(w: WorkloadSpec): { name: string; value: Uint8Array } {
  return {
    name: `${w.cluster}/${w.namespace}/${w.name}`,
    value: encodeMessage(TypeUrls.address, {
      workload: {
        uid: `${w.cluster}/${w.namespace}/${w.name}`,
        name: w.name,
        namespace: w.namespace,
        addresses: [ipToBytes(w.ip)],
        tunnelProtocol: 1,
        trustDomain: w.trustDomain,
        serviceAccount: w.serviceAccount,
        identity: `spiffe://${w.trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount}`,
        node: w.node,
        clusterId: w.cluster,
        services: Object.fromEntries(
          Object.entries(w.services ?? {}).map(([k, ps]) => [
            k,
            { ports: ps.map(([s, t]) => ({ servicePort: s, targetPort: t })) },
          ]),
        ),
        ...(w.waypointIp
          ? { waypoint: { address: { address: ipToBytes(w.waypointIp) }, hboneMtlsPort: 15008 } }
          : {}),
      },
    }),
  };
}

export function serviceResource(s: {
  namespace: string;
  hostname: string;
  vip: string;
  ports: [number, number][];
  waypointIp?: string;
}) {
  return {
    name: `${s.namespace}/${s.hostname}`,
    value: encodeMessage(TypeUrls.address, {
      service: {
        name: s.hostname.split('.')[0],
        namespace: s.namespace,
        hostname: s.hostname,
        addresses: [{ network: '', address: ipToBytes(s.vip) }],
        ports: s.ports.map(([p, t]) => ({ servicePort: p, targetPort: t })),
        ...(s.waypointIp
          ? { waypoint: { address: { address: ipToBytes(s.waypointIp) }, hboneMtlsPort: 15008 } }
          : {}),
      },
    }),
  };
}

export function allowPrincipals(namespace: string, name: string, principals: string[]) {
  return {
    name: `${namespace}/${name}`,
    value: encodeMessage(TypeUrls.authorization, {
      name,
      namespace,
      scope: 1,
      action: 0,
      groups: [{ rules: [{ matches: [{ principals: principals.map((p) => ({ exact: p })) }] }] }],
    }),
  };
}

/** A TCP server that answers every chunk with `${prefix}${chunk}`. */
export async function echoServer(host: string, port: number, prefix: string): Promise<net.Server> {
  const srv = net.createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d) => s.write(prefix + d.toString()));
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => srv.listen(port, host, () => r()));
  return srv;
}

/** Connect from `localAddress` (a workload IP) and keep the socket open for more exchanges. */
export async function openConn(
  localAddress: string,
  host: string,
  port: number,
): Promise<net.Socket> {
  const s = net.connect({ host, port, localAddress });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('error', reject);
  });
  return s;
}

/** Send one line and wait for the answer, or '' when the connection closes first. */
export function exchange(s: net.Socket, msg: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const done = () => {
      clearTimeout(t);
      s.off('data', onData);
      s.off('close', done);
      resolve(got);
    };
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.endsWith(msg)) done();
    };
    const t = setTimeout(done, timeoutMs);
    s.on('data', onData);
    s.once('close', done);
    s.write(msg);
  });
}

export async function roundTrip(
  localAddress: string,
  host: string,
  port: number,
  msg: string,
): Promise<string> {
  let s: net.Socket;
  try {
    s = await openConn(localAddress, host, port);
  } catch {
    return '';
  }
  const r = await exchange(s, msg);
  s.destroy();
  return r;
}

export async function getJson(url: string): Promise<Record<string, unknown>> {
  const r = await fetch(url);
  return (await r.json()) as Record<string, unknown>;
}

/**
 * Wait until `node` listens for HBONE on `count` local workload IPs. Each listener starts when
 * that workload's certificate arrives, so one path answering says nothing of the others.
 */
export async function waitForInbound(node: NodeProcess, count: number): Promise<void> {
  await waitFor(
    `${count} HBONE inbound listeners on ${node.adminUrl}`,
    async () => {
      const d = (await getJson(`${node.adminUrl}/config_dump`).catch(() => undefined)) as
        { ztunnel?: { inbound?: unknown[] } } | undefined;
      return (d?.ztunnel?.inbound?.length ?? 0) >= count;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

/** The control side of a node test: CA, CA server and (fake) xDS server, as `startControl` made them. */
export interface TestControl {
  readonly ca: CertificateAuthority;
  readonly caServer: CaServer;
  readonly ads: FakeAdsServer;
  /** The arguments every node of this fleet is started with (see spawnNode). */
  readonly nodeArgs: {
    cluster: string;
    'trust-domain': string;
    ca: string;
    'trust-bundle': string;
    xds: string;
  };
  /** A certificate and key for `spiffeId`, signed by the CA (PEM). */
  issue(spiffeId: string, ttlMs?: number): Promise<{ cert: string; key: string }>;
  close(): Promise<void>;
}

/**
 * A CA (kept under `dir`, its root also at `dir/root.pem`), a CA server that knows which
 * workloads each node runs and takes the join token `tok-<node>` for each node, and a
 * FakeAdsServer presenting `spiffe://<trust domain>/shoal/xds`, on loopback.
 */
export async function startControl(opts: {
  readonly dir: string;
  readonly trustDomain: string;
  readonly cluster: string;
  readonly nodes: Readonly<Record<string, readonly WorkloadSpec[]>>;
  /** Lifetime of node and workload certificates (default 1 h; short ones exercise rotation). */
  readonly certTtlMs?: number;
  readonly metrics?: Registry;
}): Promise<TestControl> {
  const ca = await CertificateAuthority.loadOrCreate(join(opts.dir, 'ca'), opts.trustDomain);
  const rootFile = join(opts.dir, 'root.pem');
  await writeFile(rootFile, ca.rootPem);
  const registry = new InMemoryWorkloadRegistry();
  const tokens = new InMemoryJoinTokens();
  for (const [node, workloads] of Object.entries(opts.nodes)) {
    registry.set({ cluster: opts.cluster, node }, [...workloads]);
    tokens.add(`tok-${node}`, { cluster: opts.cluster, node });
  }
  const ttl = opts.certTtlMs ?? 3600_000;
  const caServer = new CaServer({
    ca,
    registry,
    joinTokens: tokens,
    host: '127.0.0.1',
    port: 0,
    nodeCertTtlMs: ttl,
    workloadCertTtlMs: ttl,
    logger: silentLogger(),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
  });
  await caServer.start();
  const issue = async (spiffeId: string, ttlMs = 3600_000) => {
    const k = await generateKeyPair();
    const c = await ca.sign(await createCsr(k.keys, spiffeId), spiffeId, ttlMs);
    return { cert: c.certChainPem.join(''), key: k.keyPem };
  };
  const xds = await issue(`spiffe://${opts.trustDomain}/shoal/xds`);
  const ads = new FakeAdsServer({ rootPem: ca.rootPem, certPem: xds.cert, keyPem: xds.key });
  try {
    await ads.start();
  } catch (err) {
    await caServer.close();
    throw err;
  }
  return {
    ca,
    caServer,
    ads,
    nodeArgs: {
      cluster: opts.cluster,
      'trust-domain': opts.trustDomain,
      ca: caServer.address,
      'trust-bundle': rootFile,
      xds: ads.address,
    },
    issue,
    close: async () => {
      await ads.close();
      await caServer.close();
    },
  };
}
