import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { waitFor } from '@shoal/common';
import { startNatsServer, type TestNatsServer } from '@shoal/testkit';
import { startStore, tempDir, type TestStore } from './testing/helpers.js';

const FILES = 20;
const PER_FILE = 100;
const fileText = (f: number, port: number) =>
  Array.from(
    { length: PER_FILE },
    (_, i) =>
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: s-${f}-${i}\n  namespace: shop\nspec:\n  ports:\n    - port: ${port}\n`,
  ).join('---\n');

describe('agent process killed with SIGKILL while publishing (real NATS, ingest and PostgreSQL; agent as a child process)', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  // The real ingest appends to a fresh database: assertions are on what the store holds.
  let store: TestStore;
  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    store = await startStore(nats.url);
  });
  after(async () => {
    await store?.close();
    await nc?.close();
    await nats?.dispose();
  });

  it('loses no change and stores no duplicate', async () => {
    const dir = tempDir('shoal-agent-kill-');
    const manifests = join(dir.path, 'site');
    mkdirSync(manifests);
    for (let f = 0; f < FILES; f++) writeFileSync(join(manifests, `f${f}.yaml`), fileText(f, 80));
    const main = resolve(import.meta.dirname, 'main.ts');
    const run = (): ChildProcess =>
      spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          main,
          '--cluster',
          'edge-k',
          '--source',
          'manifest-dir',
          '--manifest-dir',
          manifests,
          '--nats-url',
          nats.url,
          '--buffer-dir',
          join(dir.path, 'buffer'),
          '--publish-window',
          '4',
          '--heartbeat-interval',
          '1h',
        ],
        { stdio: 'ignore', env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'error' } },
      );
    let child = run();
    try {
      await waitFor('publishing under way', async () => (await store.count()) >= 300, {
        timeoutMs: 60_000,
        intervalMs: 20,
      });
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const atKill = await store.count();
      assert.ok(atKill < 1 + FILES * PER_FILE, `killed mid-flush (${atKill} stored)`);

      // While it is dead: f0 changes, f1 is deleted.
      writeFileSync(join(manifests, 'f0.yaml'), fileText(0, 90));
      rmSync(join(manifests, 'f1.yaml'));
      child = run();
      const want = 1 + FILES * PER_FILE + 1 + PER_FILE + PER_FILE;
      await waitFor(`${want} events stored`, async () => (await store.count()) >= want, {
        timeoutMs: 90_000,
        intervalMs: 100,
      });
      await new Promise((r) => setTimeout(r, 500));
      const evs = await store.read();
      assert.equal(evs.length, want, 'nothing extra stored');
      assert.equal(
        new Set(evs.map((e) => e.envelope.id)).size,
        evs.length,
        'no event id stored twice',
      );
      const history = new Map<string, string[]>();
      for (const e of evs) {
        if (e.envelope.type === 'ClusterRegistered') continue;
        const name = String(e.envelope.data.name);
        const port = (e.envelope.data.spec as { spec?: { ports: { port: number }[] } } | undefined)
          ?.spec?.ports[0]?.port;
        const step = e.envelope.type === 'ResourceDeleted' ? 'deleted' : String(port);
        history.set(name, [...(history.get(name) ?? []), step]);
      }
      assert.equal(history.size, FILES * PER_FILE);
      for (const [name, steps] of history) {
        const f = Number(name.split('-')[1]);
        const expected = f === 0 ? ['80', '90'] : f === 1 ? ['80', 'deleted'] : ['80'];
        assert.deepEqual(steps, expected, name);
      }
    } finally {
      // The agent writes its buffer until it has exited: remove the folder only then.
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      dir.remove();
    }
  });
});
