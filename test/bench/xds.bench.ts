/**
 * `npm run bench -- xds [--clients 2000] [--changes 5]`
 *
 * N simulated ADS clients (test/interop/xds/loadgen, one process, one mTLS connection each,
 * SotW, CDS+EDS+LDS+RDS) connect to a Shoal xDS server (its own process, started from
 * services/xds/src/main.ts, on a nats-server of the benchmark's own) and ACK generation 0;
 * then `changes` times a new generation that changes every type of every node is assigned, and
 * the time until every client ACKed it is measured. The same clients then run against
 * go-control-plane's SnapshotCache server (test/interop/xds/baseline) built in the same run.
 *
 * Writes test/bench/results/xds.json: fanout_all_acked_ms_p50/p99, mem_per_stream_kb and the
 * baseline_* figures. Targets: p50 ≤ 1.0 × baseline, memory per stream ≤ 2 × baseline.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, tcpReachable, waitFor } from '@shoal/common';
import { startNatsServer } from '@shoal/testkit';
import { NatsConfigStore } from '@shoal/xds';
import { connect } from '@nats-io/transport-node';
import { createTestCa } from '../../services/xds/src/testing/certs.js';
import { benchResources, bundle } from '../../services/xds/src/testing/fixtures.js';

const root = resolve(import.meta.dirname, '../..');
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('clients', 2000);
const CHANGES = arg('changes', 5);
const TD = 'shoal.test';
const CLUSTER = 'bench';
const say = (s: string) => process.stderr.write(`xds bench: ${s}\n`);

const rssKb = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

/** The load generator: resolves waits for "every client ACKed version V". */
function startLoadgen(bin: string, addr: string, caCert: string, caKey: string) {
  const child = spawn(
    join(bin, 'loadgen'),
    [
      '-addr',
      addr,
      '-clients',
      String(N),
      '-ca-cert',
      caCert,
      '-ca-key',
      caKey,
      '-trust-domain',
      TD,
      '-cluster',
      CLUSTER,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const acked = new Map<string, number>();
  const waiters = new Map<string, (at: number) => void>();
  let errors = 0;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const ev = JSON.parse(line) as {
      event: string;
      version?: string;
      at?: number;
      message?: string;
    };
    if (ev.event === 'allAcked') {
      acked.set(ev.version!, ev.at!);
      waiters.get(ev.version!)?.(ev.at!);
    } else if (ev.event === 'error' && errors++ < 5) say(`loadgen: ${ev.message}`);
  });
  return {
    child,
    allAcked(version: string, timeoutMs = 120_000): Promise<number> {
      const have = acked.get(version);
      if (have !== undefined) return Promise.resolve(have);
      return new Promise((res, rej) => {
        const t = setTimeout(
          () => rej(new Error(`not every client ACKed ${version} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.set(version, (at) => {
          clearTimeout(t);
          res(at);
        });
      });
    },
  };
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

interface Result {
  p50: number;
  p99: number;
  memPerStreamKb: number;
  samples: number[];
}

async function measure(
  name: string,
  pid: number,
  addr: string,
  bin: string,
  files: { caCert: string; caKey: string },
  change: (k: number) => Promise<number>,
): Promise<Result> {
  const rss0 = rssKb(pid);
  const t0 = Date.now();
  const lg = startLoadgen(bin, addr, files.caCert, files.caKey);
  try {
    await lg.allAcked('g0', 180_000);
    say(`${name}: ${N} clients connected and ACKed g0 in ${Date.now() - t0} ms`);
    await sleep(2000);
    const rss1 = rssKb(pid);
    const samples: number[] = [];
    for (let k = 1; k <= CHANGES; k++) {
      const start = await change(k);
      const at = await lg.allAcked(`g${k}`);
      samples.push(at - start);
      say(`${name}: g${k} ACKed by all ${N} clients after ${at - start} ms`);
      await sleep(500);
    }
    return {
      p50: pct(samples, 50),
      p99: pct(samples, 99),
      memPerStreamKb: (rss1 - rss0) / N,
      samples,
    };
  } finally {
    await stop(lg.child);
  }
}

async function main() {
  say(`building the Go programs (cached)...`);
  const bin = execFileSync(join(root, 'test/interop/xds/build.sh'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const ca = await createTestCa();
  const serverFiles = ca.writeFiles(await ca.issue([`spiffe://${TD}/shoal/xds`]));
  const caKey = join(serverFiles.dir, 'ca-key.pem');
  writeFileSync(caKey, ca.key, { mode: 0o600 });
  const files = { caCert: serverFiles.ca, caKey };

  // --- Shoal ---------------------------------------------------------------------------------
  const nats = await startNatsServer();
  const port = await freePort();
  const shoal = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'services/xds/src/main.ts')],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        LOG_LEVEL: 'warn',
        LOG_FORMAT: 'json',
        NATS_URL: nats.url,
        SHOAL_XDS_LISTEN: `127.0.0.1:${port}`,
        SHOAL_XDS_TLS_CA: serverFiles.ca,
        SHOAL_XDS_TLS_CERT: serverFiles.cert,
        SHOAL_XDS_TLS_KEY: serverFiles.key,
        SHOAL_TRUST_DOMAIN: TD,
        SHOAL_XDS_ADMIN_PORT: '0',
        SHOAL_XDS_REPLICA: 'bench',
      },
    },
  );
  let shoalResult: Result;
  const nc = await connect({ servers: nats.url });
  try {
    await waitFor('the Shoal xDS server', () => tcpReachable('127.0.0.1', port), {
      timeoutMs: 30_000,
    });
    const store = await NatsConfigStore.open(nc);
    const publish = async (k: number) => {
      const res = benchResources(k);
      const bundles = Array.from({ length: N }, (_, i) => bundle(CLUSTER, `n${i}`, `g${k}`, res));
      await store.publishVersion(CLUSTER, `g${k}`, bundles);
    };
    await publish(0);
    await store.assign(CLUSTER, 'g0', 'bench');
    await sleep(1000);
    shoalResult = await measure('shoal', shoal.pid!, `127.0.0.1:${port}`, bin, files, async (k) => {
      await publish(k); // compiling and publishing is not part of the fan-out
      const start = Date.now();
      await store.assign(CLUSTER, `g${k}`, 'bench');
      return start;
    });
  } finally {
    await nc.close();
    await stop(shoal);
    await nats.dispose();
  }

  // --- go-control-plane baseline -----------------------------------------------------------
  const base = spawn(
    join(bin, 'baseline'),
    [
      '-nodes',
      String(N),
      '-ca',
      serverFiles.ca,
      '-cert',
      serverFiles.cert,
      '-key',
      serverFiles.key,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let baseResult: Result;
  try {
    const lines = createInterface({ input: base.stdout! });
    const pending: ((l: string) => void)[] = [];
    lines.on('line', (l) => pending.shift()?.(l));
    const nextLine = () => new Promise<string>((r) => pending.push(r));
    const listening = await nextLine();
    const basePort = Number(listening.split(' ')[1]);
    const set = async (k: number) => {
      const ok = nextLine();
      base.stdin!.write(`set ${k}\n`);
      await ok;
    };
    await set(0);
    await sleep(1000);
    baseResult = await measure(
      'go-control-plane',
      base.pid!,
      `127.0.0.1:${basePort}`,
      bin,
      files,
      async (k) => {
        const start = Date.now();
        await set(k);
        return start;
      },
    );
  } finally {
    await stop(base);
  }

  const out = {
    clients: N,
    changes: CHANGES,
    fanout_all_acked_ms_p50: shoalResult.p50,
    fanout_all_acked_ms_p99: shoalResult.p99,
    mem_per_stream_kb: Math.round(shoalResult.memPerStreamKb * 10) / 10,
    baseline_fanout_all_acked_ms_p50: baseResult.p50,
    baseline_fanout_all_acked_ms_p99: baseResult.p99,
    baseline_mem_per_stream_kb: Math.round(baseResult.memPerStreamKb * 10) / 10,
    fanout_p50_ratio: Math.round((shoalResult.p50 / baseResult.p50) * 100) / 100,
    mem_ratio: Math.round((shoalResult.memPerStreamKb / baseResult.memPerStreamKb) * 100) / 100,
    targets: { fanout_p50_ratio_max: 1.0, mem_ratio_max: 2.0 },
    samples_ms: { shoal: shoalResult.samples, baseline: baseResult.samples },
    measuredAt: new Date().toISOString(),
  };
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(join(import.meta.dirname, 'results/xds.json'), JSON.stringify(out, null, 2) + '\n');
  const verdict = (ok: boolean) => (ok ? 'meets target' : 'MISSES target');
  process.stdout.write(
    `xds fan-out, ${N} clients, ${CHANGES} changes:\n` +
      `  all ACKed p50  shoal ${out.fanout_all_acked_ms_p50} ms  go-control-plane ${out.baseline_fanout_all_acked_ms_p50} ms  ` +
      `ratio ${out.fanout_p50_ratio} (≤ 1.0: ${verdict(out.fanout_p50_ratio <= 1)})\n` +
      `  all ACKed p99  shoal ${out.fanout_all_acked_ms_p99} ms  go-control-plane ${out.baseline_fanout_all_acked_ms_p99} ms\n` +
      `  memory/stream  shoal ${out.mem_per_stream_kb} KiB  go-control-plane ${out.baseline_mem_per_stream_kb} KiB  ` +
      `ratio ${out.mem_ratio} (≤ 2.0: ${verdict(out.mem_ratio <= 2)})\n`,
  );
}

await main();
