/**
 * The Temporal worker process is killed (SIGKILL) mid-wave and a new one started: the rollout
 * completes correctly. Workers run as child processes (workflows/src/rollout/main.ts, the real
 * entry point); the simulated fleet lives in this process and answers over NATS, so its state
 * survives the worker.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireEnv, sleep, startNatsServer, type TestNatsServer } from '@shoal/testkit';
import { rolloutCommands } from './client.js';
import { startHarness, type Harness } from './harness.js';
import { recordHistory } from './replay-support.js';
import { bundleRolloutWorkflows } from './worker.js';

const MAIN = join(import.meta.dirname, 'main.ts');

let nats: TestNatsServer;
let h: Harness;
let dir: string;
const children: ChildProcess[] = [];

async function startWorker(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { ...process.env, ...env, LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker did not start:\n${out}\n${err}`)),
      30_000,
    );
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('rollout worker running')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`worker exited (${code}):\n${out}\n${err}`)));
  });
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => child.once('exit', () => r()));
}

describe('rollout worker crash (real Temporal, worker child processes)', () => {
  before(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'shoal-rollout-crash-'));
  });
  after(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGTERM');
        await exited(c);
      }
    }
    await h?.close();
    await nats.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a worker killed with SIGKILL mid-wave is replaced and the rollout completes correctly', async () => {
    const bundlePath = join(dir, 'workflows.js');
    writeFileSync(bundlePath, (await bundleRolloutWorkflows()).code);
    const clusters = Array.from({ length: 8 }, (_, i) => `c-${i}`);
    h = await startHarness({
      natsUrl: nats.url,
      temporalAddress: requireEnv('TEMPORAL_ADDRESS'),
      namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
      fleet: clusters.map((name) => ({ name, nodes: 2, version: 'v1' })),
      worker: false,
      ackDelayMs: 300,
    });
    const env = {
      ...h.workerEnv(),
      ROLLOUT_WORKFLOW_BUNDLE: bundlePath,
      ROLLOUT_STICKY_TIMEOUT: '1s',
    };
    const first = await startWorker(env);
    const rolloutId = `rollout-${h.id}`;
    const handle = await h.start({
      rolloutId,
      targetVersion: 'v2',
      policy: {
        name: 'crash',
        canary: { clusters: ['c-0'] },
        waves: [
          { name: 'half', percent: 50 },
          { name: 'rest', percent: 100 },
        ],
        maxConcurrent: 1,
        bakeTimeMs: 0,
        health: { maxErrorRate: 0.05 },
        convergenceDeadlineMs: 30_000,
        offlineEdge: { waitMs: 0, action: 'fail' },
      },
      // Short heartbeats so the dead worker's activity is retried fast; continue as new after a
      // few batches so the crash also crosses a continue-as-new.
      tuning: { pollMs: 50, heartbeatTimeoutMs: 1500, continueAsNewAfterEvents: 40 },
    });
    for (;;) {
      const p = await rolloutCommands.progress(handle);
      if (p.currentWave === 1 && p.clusters.some((c) => c.state === 'converging')) break;
      assert.equal(p.state === 'completed', false, 'the rollout finished before the kill');
      await sleep(20);
    }
    first.kill('SIGKILL');
    await exited(first);
    const midway = h.fleet.notOn('v2');
    assert.ok(midway.length > 0 && midway.length < 8, `killed mid-rollout (${midway.length} left)`);
    await sleep(500);
    await startWorker(env);
    const result = await handle.result();
    assert.equal(result.status, 'completed');
    assert.deepEqual(h.fleet.notOn('v2'), []);
    const progress = await rolloutCommands.progress(handle);
    assert.ok(progress.runs >= 1, 'the rollout continued as new at least once');
    const assigned = (await h.events(rolloutId)).filter((e) => e.type === 'ConfigVersionAssigned');
    assert.deepEqual(
      assigned.map((e) => e.metadata.cluster).sort(),
      clusters,
      'one event per cluster',
    );
    assert.equal(new Set(assigned.map((e) => e.id)).size, assigned.length);
    await recordHistory(h.client, rolloutId, 'continued-as-new');
  });
});
