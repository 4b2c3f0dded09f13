/**
 * `npm start` itself, as a user runs it: the real command in its own process group, with a
 * bigger fleet (`--clusters 3 --nodes 3`: the demo's two clusters with node worker processes,
 * plus one simulated cluster of three simulated nodes), pointed at this test's NATS server, a
 * fresh PostgreSQL database and the test stack's Temporal the way the README says to point it
 * at existing servers. Checks what it prints, that the printed lines work, that the simulated
 * nodes hold the rolled-out version, and that Ctrl-C (SIGINT to the process group, as a
 * terminal sends it) stops everything it started. Uses the demo's fixed loopback addresses:
 * do not run it while `npm start` runs its demo on the same machine.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort, tcpReachable, waitFor } from '@shoal/common';
import {
  requireEnv,
  startNatsServer,
  tempDatabase,
  type TempDatabase,
  type TestNatsServer,
} from '../support/index.js';

const root = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

describe(
  'npm start -- --clusters 3 --nodes 3 (the main job, as a user runs it)',
  { timeout: 420_000 },
  () => {
    let nats: TestNatsServer;
    let db: TempDatabase;
    let dataDir: string;
    let child: ChildProcess;
    let out = '';
    let apiPort: number;
    let exited: Promise<number | string | null>;

    /** `npx shoal …` against this npm start (its context file), with an optional other token. */
    const cli = async (args: string[], token?: string) => {
      const env: Record<string, string> = {
        ...(process.env as Record<string, string>),
        SHOAL_CONFIG: join(dataDir, 'cli.json'),
      };
      if (token) env.SHOAL_TOKEN = token;
      return run(process.execPath, [join(root, 'services/cli/bin/shoal.mjs'), ...args], {
        cwd: root,
        env,
      }).then(
        (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({
          code: e.code,
          out: e.stdout,
          err: e.stderr,
        }),
      );
    };
    const shoal = async (...args: string[]) => {
      const r = await cli(args);
      assert.equal(r.code, 0, `shoal ${args.join(' ')}: ${r.err}`);
      return r.out;
    };

    before(async () => {
      [nats, db] = await Promise.all([startNatsServer(), tempDatabase('shoal_start')]);
      dataDir = mkdtempSync(join(tmpdir(), 'shoal-start-'));
      apiPort = await freePort();
      const env: Record<string, string> = {
        ...(process.env as Record<string, string>),
        NATS_URL: nats.url,
        DATABASE_URL: db.url,
        TEMPORAL_ADDRESS: requireEnv('TEMPORAL_ADDRESS'),
        SHOAL_API_PORT: String(apiPort),
        SHOAL_ADMIN_PORT: String(await freePort()),
        SHOAL_CA_PORT: String(await freePort()),
        SHOAL_XDS_PORT: String(await freePort()),
      };
      child = spawn(
        'npm',
        ['start', '--', '--clusters', '3', '--nodes', '3', '--data-dir', dataDir],
        { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      exited = new Promise((r) => child.on('exit', (code, signal) => r(code ?? signal)));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      await new Promise<void>((ok, fail) => {
        const t = setTimeout(
          () => fail(new Error(`npm start printed no banner in 300 s:\n${out}`)),
          300_000,
        );
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('Press Ctrl-C to stop')) {
            clearTimeout(t);
            ok();
          }
        });
        child.on('exit', (code) => fail(new Error(`npm start exited with ${code}:\n${out}`)));
      });
    });

    after(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(-child.pid!, 'SIGKILL');
        await exited;
      }
      await Promise.all([nats?.dispose(), db?.drop()]);
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('prints where everything listens, the fleet with its simulated part, and a completed first rollout', () => {
      assert.match(out, /Shoal is up \(\d+\.\d s\)/);
      assert.match(out, /sites {5}east, edge-1, west /);
      assert.match(out, /simulated 1 cluster \(sim-1\), 3 simulated nodes/);
      assert.match(out, /rollout {3}first rollout fv-[0-9a-f]+: completed/, out);
      assert.match(out, new RegExp(`api .*127\\.0\\.0\\.1:${apiPort}`));
      // Named after this store's fleet identity, not shared with the other fleets of the test
      // Temporal server (fleet.e2e's scope workflow is still open there).
      assert.match(out, /workflow rollout-scope\/fleet-[0-9a-f]{12}\n/);
    });

    it('the printed curl lines work: the ingress answers, the waypoint wants the JWT', async () => {
      const ingress = /curl (http:\/\/[\d.:]+)\/\n/.exec(out)?.[1];
      assert.ok(ingress, 'a curl line for the ingress');
      const root = await fetch(`${ingress}/`, { signal: AbortSignal.timeout(5000) });
      assert.equal(root.status, 200);
      const jwt = readFileSync(join(dataDir, 'demo.jwt'), 'utf8').trim();
      const ok = await fetch(`${ingress}/reviews`, {
        headers: { authorization: `Bearer ${jwt}` },
        signal: AbortSignal.timeout(5000),
      });
      assert.equal(ok.status, 200, await ok.text());
      const denied = await fetch(`${ingress}/reviews`, { signal: AbortSignal.timeout(5000) });
      assert.equal(denied.status, 401);
    });

    it('the simulated nodes joined, ACKed the version the rollout gave their cluster, and show in `shoal nodes`', async () => {
      const clusters = JSON.parse(await shoal('clusters', '-o', 'json')) as {
        name: string;
        assignedVersion: string;
      }[];
      const sim = clusters.find((c) => c.name === 'sim-1');
      assert.ok(sim?.assignedVersion, `sim-1 has an assigned version: ${JSON.stringify(clusters)}`);
      const nodes = JSON.parse(await shoal('nodes', '--cluster', 'sim-1', '-o', 'json')) as {
        node: string;
        ackedVersion: string;
      }[];
      assert.deepEqual(nodes.map((n) => n.node).sort(), ['sim-1-n1', 'sim-1-n2', 'sim-1-n3']);
      for (const n of nodes) assert.equal(n.ackedVersion, sim.assignedVersion, n.node);
    });

    it('drives a change from the CLI: per-node diff, apply, a watched rollout, versions in get', async () => {
      const change = join(root, 'deploy/examples/demo/changes/reviews-50-50.yaml');
      const diff = await shoal('diff', '-f', change);
      assert.match(diff, /httproute\/shop\/reviews configured in global/);
      assert.match(diff, /- +weight: 90\n +\+ +weight: 50/);
      // Per node: the nodes hosting the waypoint get a new route, simulated ones included.
      for (const node of ['east/east-2', 'west/west-2', 'sim-1/sim-1-n1'])
        assert.match(
          diff,
          new RegExp(
            `node ${node}: \\w+ -> \\w+ \\(1 resources\\)\n +RouteConfiguration/waypoint/\\S+ changed`,
          ),
          diff,
        );
      assert.doesNotMatch(diff, /node east\/east-1:/, 'east-1 hosts no waypoint: unchanged');

      const listBefore = await shoal('rollout', 'list');
      const applied = await shoal('apply', '-f', change, '--reason', 'even split');
      assert.match(applied, /httproute\/shop\/reviews configured in global/);
      let id = '';
      await waitFor(
        'a new rollout',
        async () => {
          const ids = (await shoal('rollout', 'list'))
            .split('\n')
            .slice(1)
            .map((l) => l.split(/\s+/)[0]!);
          id = ids.find((x) => x.startsWith('rollout-') && !listBefore.includes(x)) ?? '';
          return id !== '';
        },
        { timeoutMs: 60_000 },
      );
      // Not a terminal: one plain, timestamped line per change, ending with the outcome.
      const watched = await shoal('rollout', 'status', id, '--watch');
      const lines = watched.trim().split('\n');
      for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT[\d:.]+Z rollout rollout-/);
      assert.match(lines.at(-1)!, /COMPLETED/, watched);
      const status = await shoal('rollout', 'status', id);
      assert.match(status, /main .*completed.*\[.*sim-1.*\]/, status);

      const get = await shoal('get', 'httproute', 'reviews');
      assert.match(get, /^global +shop +reviews +2 /m, get);
    });

    it('issues a viewer token that can read but not apply, and revokes it', async () => {
      const issued = await shoal('token', 'issue', 'e2e-viewer', '--role', 'viewer');
      const [, tokenId, token] = /^token (\S+) \(viewer\).*\n(\S+)$/m.exec(issued) ?? [];
      assert.ok(tokenId && token, issued);
      const who = await cli(['whoami'], token);
      assert.equal(who.code, 0, who.err);
      assert.match(who.out, /\(role viewer, by token\)/);
      const denied = await cli(
        ['apply', '-f', join(root, 'deploy/examples/demo/changes/reviews-50-50.yaml')],
        token,
      );
      assert.equal(denied.code, 5, 'exit code for auth');
      assert.match(denied.err, /may not call Apply/);
      await shoal('token', 'revoke', tokenId);
      await waitFor('revocation in force', async () => (await cli(['whoami'], token)).code === 5, {
        timeoutMs: 10_000,
      });
      const up = await shoal('status');
      assert.doesNotMatch(up.split('\n').slice(1).join('\n'), /\bfalse\b/, up);
    });

    it('Ctrl-C stops everything it started: the control plane, the node workers, the simulated fleet', async () => {
      const admin = JSON.parse(readFileSync(join(dataDir, 'cli.json'), 'utf8')) as {
        server: string;
      };
      assert.ok(await tcpReachable('127.0.0.1', apiPort, 1000), `API up at ${admin.server}`);
      process.kill(-child.pid!, 'SIGINT');
      // npm itself exits on the signal (code 0 or by SIGINT); Shoal's processes then finish their
      // orderly shutdown: wait until none is left. Every process it started carries the data
      // folder on its command line (node workers: their trust bundle path).
      const code = await exited;
      assert.ok(code === 0 || code === 'SIGINT', `npm start ended with ${code}`);
      const left = async () =>
        (await run('pgrep', ['-af', dataDir]).catch(() => ({ stdout: '' }))).stdout.trim();
      await waitFor('every process of npm start gone', async () => (await left()) === '', {
        timeoutMs: 60_000,
      }).catch(async (err: Error) => assert.fail(`${err.message}: ${await left()}`));
      assert.doesNotMatch(out, /shutdown (timed out|failed)/, out.slice(-3000));
      assert.equal(await tcpReachable('127.0.0.1', apiPort, 500), false, 'API stopped');
      assert.equal(await tcpReachable('127.0.10.1', 15100, 500), false, 'node worker stopped');
    });
  },
);
