/**
 * `npm run bench -- agent`: the cluster agent's start-up resync and offline flush.
 *  - resync_10k_s: start of an agent whose cluster (a FAKE Kubernetes API server, 10,000
 *    Services) changed 100 resources while it was down; published_on_resync must be 100.
 *    Baseline: a naive agent that lists and republishes everything (raw JetStream publishes).
 *  - offline_flush_events_per_s: 10,000 events buffered on disk while NATS was down, flushed
 *    after it comes back. Baseline: the same number of raw JetStream publishes with msg ids
 *    and the same in-flight window, from memory, no buffer.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { createAgent, DEFAULT_KUBE_KINDS, loadAgentConfig } from '@shoal/agent';
import { silentLogger, Subjects, waitFor } from '@shoal/common';
import { startNatsServer } from '@shoal/testkit';
import { FakeKubeApi } from '../../services/agent/src/testing/fake-kube-api.js';
import { ensureEventsStream, tempDir } from '../../services/agent/src/testing/helpers.js';

const N = 10_000;
const CHANGED = 100;
const WINDOW = 256;
const Service = DEFAULT_KUBE_KINDS.find((k) => k.kind === 'Service')!;
const svc = (i: number, port: number) => ({
  metadata: { name: `s${i}`, namespace: `ns${i % 50}` },
  spec: { ports: [{ port }], selector: { app: `s${i}` } },
});

const nats = await startNatsServer();
const fake = new FakeKubeApi([Service], 5000);
await fake.start();
const dir = tempDir('shoal-bench-agent-');
const log = (s: string) => process.stdout.write(`${s}\n`);
try {
  const nc = await connect({ servers: nats.url });
  await ensureEventsStream(nc);
  for (let i = 0; i < N; i++) fake.apply(Service, svc(i, 80));
  const makeAgent = () =>
    createAgent(
      loadAgentConfig({
        argv: [
          '--cluster',
          'bench',
          '--source',
          'kube',
          '--nats-url',
          nats.url,
          '--buffer-dir',
          dir.path,
          '--heartbeat-interval',
          '1h',
          '--publish-window',
          String(WINDOW),
        ],
        env: {},
      }),
      { logger: silentLogger(), kubeConfig: fake.kubeConfig(), kubeKinds: [Service] },
    );

  // Offline flush: NATS down while the agent lists 10,000 resources into its buffer.
  await nc.close();
  await nats.stop();
  let agent = makeAgent();
  await agent.start();
  const buffered = agent.stats().pending;
  await nats.start();
  await waitFor('reconnect', async () => agent.stats().connected, {
    timeoutMs: 30_000,
    intervalMs: 5,
  });
  let t0 = performance.now();
  await waitFor('flush', async () => agent.stats().pending === 0, {
    timeoutMs: 120_000,
    intervalMs: 5,
  });
  const flushS = (performance.now() - t0) / 1000;
  const offlineFlush = buffered / flushS;
  await agent.close();

  // Baseline for the flush: raw publishes, same window, no disk.
  const nc2 = await connect({ servers: nats.url });
  const js = jetstream(nc2);
  t0 = performance.now();
  for (let i = 0; i < buffered; i += WINDOW) {
    const batch = [];
    for (let j = i; j < Math.min(buffered, i + WINDOW); j++) {
      batch.push(
        js.publish(Subjects.event('baseline', 'Service'), JSON.stringify(svc(j, 80)), {
          msgID: `b-${j}`,
        }),
      );
    }
    await Promise.all(batch);
  }
  const rawRate = buffered / ((performance.now() - t0) / 1000);

  // Resync: 100 resources change while the agent is down.
  for (let i = 0; i < CHANGED; i++) fake.apply(Service, svc(i * 97, 8080));
  agent = makeAgent();
  t0 = performance.now();
  await agent.start();
  await waitFor('resync flushed', async () => agent.stats().pending === 0, {
    timeoutMs: 60_000,
    intervalMs: 5,
  });
  const resyncS = (performance.now() - t0) / 1000;
  const publishedOnResync = agent.stats().published - 1; // minus ClusterRegistered
  await agent.close();

  // Baseline for the resync: list everything and republish everything.
  t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${fake.port}/api/v1/services`, {
    headers: { authorization: `Bearer ${fake.token}` },
  });
  const items = ((await res.json()) as { items: unknown[] }).items;
  for (let i = 0; i < items.length; i += WINDOW) {
    await Promise.all(
      items.slice(i, i + WINDOW).map((it, j) =>
        js.publish(Subjects.event('baseline', 'Service'), JSON.stringify(it), {
          msgID: `r-${i + j}`,
        }),
      ),
    );
  }
  const naiveS = (performance.now() - t0) / 1000;
  await nc2.close();

  const result = {
    resync_10k_s: Number(resyncS.toFixed(3)),
    published_on_resync: publishedOnResync,
    offline_flush_events_per_s: Math.round(offlineFlush),
    baseline_naive_republish_10k_s: Number(naiveS.toFixed(3)),
    baseline_raw_publish_events_per_s: Math.round(rawRate),
    buffered_events: buffered,
  };
  log(
    `resync of ${N} resources, ${CHANGED} changed: ${resyncS.toFixed(2)} s, published ${publishedOnResync} (target: exactly ${CHANGED}); naive republish-all: ${naiveS.toFixed(2)} s (ratio ${(resyncS / naiveS).toFixed(2)}x)`,
  );
  log(
    `offline flush of ${buffered} buffered events: ${Math.round(offlineFlush)} events/s; raw JetStream publish: ${Math.round(rawRate)} events/s (ratio ${(offlineFlush / rawRate).toFixed(2)})`,
  );
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(
    join(import.meta.dirname, 'results', 'agent.json'),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  if (publishedOnResync !== CHANGED) process.exitCode = 1;
} finally {
  await fake.stop();
  await nats.dispose();
  dir.remove();
}
