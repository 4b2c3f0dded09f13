/**
 * The whole system, as `npm start` runs it: real NATS (a server of this test's own), PostgreSQL
 * (a fresh database), Temporal (the test stack's dev server), the control plane (ingest,
 * controller, CA, xDS, rollout worker, API), and the demo fleet (agents reading
 * deploy/examples/demo, node worker processes, sample apps). Uses the demo's fixed loopback
 * addresses: do not run it while `npm start` runs its demo on the same machine.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Runtime } from '@temporalio/worker';
import type { Principal } from '@shoal/api';
import { storeHandlers } from '@shoal/api';
import { RunnerGroup, freePort, silentLogger } from '@shoal/common';
import { EventStore, verify } from '@shoal/db';
import { parseManifests } from '@shoal/model';
import { rolloutCommands, rolloutHandle, type RolloutProgress } from '@shoal/workflows';
import {
  controlPlane,
  temporalLogger,
  type ControlPlaneHandles,
} from '../../deploy/src/control-plane.js';
import { DEMO_DIR, demoFleet, type DemoFleet } from '../../deploy/src/demo/fleet.js';
import type { Stack } from '../../deploy/src/stack/index.js';
import {
  requireEnv,
  startNatsServer,
  tempDatabase,
  type TempDatabase,
  type TestNatsServer,
} from '../support/index.js';

const operator: Principal = { actor: 'token:e2e-operator', role: 'operator', method: 'token' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(
  'Shoal end to end: demo fleet, staged rollouts, automatic rollback, audit',
  { timeout: 600_000 },
  () => {
    let nats: TestNatsServer;
    let db: TempDatabase;
    let dataDir: string;
    let group: RunnerGroup;
    let h: ControlPlaneHandles;
    let demo: DemoFleet;
    let token: string;
    let api: ReturnType<typeof storeHandlers>;
    /** Requests made in the background during the rollouts: every one must succeed. */
    const background = { ok: 0, failed: [] as string[], stop: false, done: Promise.resolve() };

    const ingress = () => demo.ingress();
    const get = async (path: string, auth = true) => {
      const r = await fetch(`${ingress()}${path}`, {
        headers: auth ? { authorization: `Bearer ${token}` } : {},
        signal: AbortSignal.timeout(5000),
      });
      return { status: r.status, body: await r.text() };
    };

    const apply = async (file: string, reason: string) => {
      const text = readFileSync(file, 'utf8');
      const manifests = parseManifests(text, file).resources.map((r) => ({
        file,
        document: r.document,
        json: JSON.stringify(r.resource),
      }));
      const res = (await api.Apply!({ manifests, cluster: '', reason }, operator)) as {
        changes: { eventId: string }[];
      };
      const ids = res.changes.map((c) => c.eventId).filter(Boolean);
      const r = await h.pool.query<{ p: string }>(
        'select max(position) as p from events where event_id = any($1::uuid[])',
        [ids],
      );
      return Number(r.rows[0]?.p ?? 0);
    };

    /**
     * Wait for the rollout of a version compiled from `position` or later (the change applied,
     * not an unrelated recompile) to end; `previousRollout` is the one current before.
     */
    const rolloutAfter = async (
      previousRollout: string | undefined,
      position = 0,
    ): Promise<{ id: string; progress: RolloutProgress }> => {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const latest = h.controller.latest;
        if (latest && latest.rolloutId !== previousRollout && latest.position >= position) {
          const p = await h.temporal.connection
            .withDeadline(Date.now() + 3000, () =>
              rolloutCommands.progress(
                rolloutHandle(h.temporal, latest.rolloutId, h.controller.rolloutScope),
              ),
            )
            .catch(() => undefined);
          if (
            p &&
            ['completed', 'rolled-back', 'aborted', 'compensation-failed'].includes(p.state)
          ) {
            return { id: latest.rolloutId, progress: p };
          }
        }
        assert.ok(Date.now() < deadline, `no finished rollout after ${previousRollout}`);
        await sleep(300);
      }
    };

    const reviewsShare = async (n: number) => {
      let v2 = 0;
      for (let i = 0; i < n; i++) if ((await get('/reviews')).body.includes('reviews v2')) v2++;
      return v2 / n;
    };

    before(async () => {
      Runtime.install({ logger: temporalLogger(silentLogger()) });
      [nats, db] = await Promise.all([startNatsServer(), tempDatabase('shoal_e2e')]);
      dataDir = mkdtempSync(join(tmpdir(), 'shoal-e2e-'));
      const stack = {
        nats: { name: 'nats', url: nats.url, reused: true },
        postgres: { name: 'postgres', url: db.url, reused: true },
        temporal: { name: 'temporal', url: requireEnv('TEMPORAL_ADDRESS'), reused: true },
        temporalNamespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
      } as unknown as Stack;
      const logger = silentLogger();
      group = new RunnerGroup(logger);
      const cp = controlPlane({
        stack,
        logger,
        dataDir,
        apiHost: '127.0.0.1',
        apiPort: await freePort(),
        adminPort: await freePort(),
        caPort: await freePort(),
        xdsPort: await freePort(),
        trustDomain: 'shoal.local',
        taskQueue: `e2e-${Date.now()}`,
      });
      await group.start(cp.runners);
      h = cp.handles();
      api = storeHandlers({ store: new EventStore(h.pool), pool: h.pool, writer: h.writer });
      demo = demoFleet({
        dataDir,
        natsUrl: nats.url,
        trustDomain: 'shoal.local',
        logger,
        handles: cp.handles,
      });
      await group.start([demo]);
      token = demo.demoToken();
    });

    after(async () => {
      background.stop = true;
      await background.done;
      await group?.close();
      await Promise.all([nats?.dispose(), db?.drop()]);
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('completes the first rollout and carries traffic through the ingress and the waypoint over mutual-TLS HBONE', async () => {
      assert.equal(demo.firstRollout()?.state, 'completed');
      const root = await get('/', false);
      assert.equal(root.status, 200);
      assert.match(root.body, /^web v[12] \(web-v[12]-(east|west|edge)\)/);
      const reviews = await get('/reviews');
      assert.equal(reviews.status, 200, reviews.body);
      assert.match(reviews.body, /-> reviews v[12] \(reviews-v[12]-(east|west)\)/);
      const denied = await get('/reviews', false);
      assert.equal(denied.status, 401, 'the waypoint enforces the JWT rule');
      assert.match(denied.body, /Jwt is missing/);
      // The peer identities the ztunnels verified, from their connection pools (source identity |
      // destination identity | destination): web workloads reach reviews only via the waypoint.
      const pools: string[] = [];
      for (const n of demo.nodes()) {
        const dump = (await (await fetch(`http://${n.ip}:${n.adminPort}/config_dump`)).json()) as {
          ztunnel: { pooledSessions: string[] };
        };
        pools.push(...dump.ztunnel.pooledSessions);
      }
      assert.ok(
        pools.some((k) =>
          k.startsWith(
            'spiffe://shoal.local/ns/shop/sa/web|spiffe://shoal.local/ns/shop/sa/shop-waypoint|',
          ),
        ),
        `web -> waypoint session with verified identities; pools: ${pools.join(', ')}`,
      );
      // Start background traffic for the rest of the scenario: nothing outside the deliberately
      // failing requests may fail.
      background.done = (async () => {
        while (!background.stop) {
          const r = await get('/reviews').catch((err: Error) => ({ status: 0, body: err.message }));
          if (r.status === 200) background.ok++;
          else background.failed.push(`${r.status} ${r.body.trim()}`);
          await sleep(50);
        }
      })();
    });

    let good: { id: string; progress: RolloutProgress };
    let positionBeforeBad = 0;

    it('rolls a good change (a new route weight) out wave by wave, and the traffic split follows', async () => {
      const before = await reviewsShare(40);
      const prev = h.controller.latest!.rolloutId;
      const at = await apply(join(DEMO_DIR, 'changes', 'reviews-50-50.yaml'), 'even split');
      good = await rolloutAfter(prev, at);
      assert.equal(good.progress.state, 'completed', good.progress.reasons.join('; '));
      assert.deepEqual(
        good.progress.waves.map((w) => `${w.name}:${w.state}`),
        ['canary:completed', 'main:completed', 'edge:completed'],
      );
      const waves = await h.pool.query<{ wave: string }>(
        `select data->>'wave' as wave from events where type = 'RolloutWaveStarted' and data->>'rolloutId' = $1 order by position`,
        [good.id],
      );
      assert.deepEqual(
        waves.rows.map((r) => r.wave),
        ['canary', 'main', 'edge'],
      );
      const afterShare = await reviewsShare(60);
      assert.ok(
        before < 0.3 && afterShare > 0.3,
        `reviews v2 share went from ${before} to ${afterShare}`,
      );
    });

    it('rolls a bad change (nodes NACK it) back automatically, with the node and its message as the reason', async () => {
      positionBeforeBad = Number(
        (await h.pool.query('select max(position) as p from events')).rows[0].p,
      );
      const goodVersion = h.controller.latest!.version;
      const badAt = await apply(join(DEMO_DIR, 'changes', 'bad-jwks.yaml'), 'rotate JWKS (broken)');
      // The bad version's rollout fails, rolls back and is followed at once by the revert's
      // rollout: find it by its RolloutRolledBack event rather than as the newest rollout.
      let bad: { id: string; progress: RolloutProgress } | undefined;
      for (const until = Date.now() + 120_000; !bad && Date.now() < until; await sleep(300)) {
        const rb = await h.pool.query<{ id: string }>(
          `select data->>'rolloutId' as id from events
           where type = 'RolloutRolledBack' and position > $1 order by position limit 1`,
          [badAt],
        );
        const id = rb.rows[0]?.id;
        if (!id) continue;
        const p = await h.temporal.connection
          .withDeadline(Date.now() + 3000, () =>
            rolloutCommands.progress(rolloutHandle(h.temporal, id, h.controller.rolloutScope)),
          )
          .catch(() => undefined);
        if (p && p.state !== 'rolling-back') bad = { id, progress: p };
      }
      assert.ok(bad, 'the bad change was rolled back');
      assert.equal(
        bad.progress.state,
        'rolled-back',
        `rollout ${bad.id} (${bad.progress.targetVersion}) ended ${bad.progress.state}: ${bad.progress.reasons.join('; ')}`,
      );
      assert.match(
        bad.progress.reasons.join('\n'),
        /node east-\d of cluster east rejected version .*not a usable key/,
      );
      for (const c of ['east', 'west', 'edge-1']) {
        assert.equal(
          (await h.xds.store.getAssignment(c))?.version,
          goodVersion,
          `${c} is back on the last good version`,
        );
      }
      // The change is reverted in the desired state too, and the fleet returns to the good version.
      const reverted = await rolloutAfter(bad.id);
      assert.equal(reverted.progress.state, 'completed');
      assert.equal(h.controller.latest!.version, goodVersion);
    });

    it('shows every step in the audit trail with its actor, verifies the hash chain, and time-travels to before the bad change', async () => {
      const actors = await h.pool.query<{ type: string; actor: string }>(
        `select distinct type, metadata->>'actor' as actor from events`,
      );
      const has = (type: string, actor: RegExp) =>
        actors.rows.some((r) => r.type === type && actor.test(r.actor));
      assert.ok(has('ResourceUpserted', /^token:e2e-operator$/), 'operator changes');
      assert.ok(has('ResourceUpserted', /^system:rollback$/), 'the automatic revert');
      assert.ok(has('ResourceUpserted', /^agent:|^spiffe:|agent/), 'agent reports');
      assert.ok(has('ConfigVersionCompiled', /^system:controller$/));
      for (const t of [
        'RolloutStarted',
        'RolloutWaveStarted',
        'ConfigVersionAssigned',
        'RolloutGateFailed',
        'RolloutRolledBack',
        'RolloutCompleted',
      ]) {
        assert.ok(has(t, /rollout-worker/), `${t} recorded by the rollout worker`);
      }
      assert.ok(
        has('NodeConfigRejected', /^spiffe:\/\/shoal\.local\/shoal\/node\/east\//),
        'the NACK, with the node identity',
      );
      const chain = await verify(new EventStore(h.pool));
      assert.equal(chain.ok, true, JSON.stringify(chain));
      const then = (await api.StateAt!(
        { at: String(positionBeforeBad), cluster: 'global' },
        operator,
      )) as { resources: { json: string }[] };
      const head = Number((await h.pool.query('select max(position) as p from events')).rows[0].p);
      const now = (await api.StateAt!({ at: String(head), cluster: 'global' }, operator)) as {
        resources: { json: string }[];
      };
      assert.deepEqual(
        now.resources.map((r) => r.json).sort(),
        then.resources.map((r) => r.json).sort(),
      );
    });

    it('skips an offline edge site, marks it pending, and it converges to the current version when it is back', async () => {
      const edge = demo.nodes().find((n) => n.cluster === 'edge-1')!;
      await demo.stopNode(edge.node);
      const prev = h.controller.latest!.rolloutId;
      const file = join(dataDir, 'reviews-70-30.yaml');
      const text = readFileSync(join(DEMO_DIR, 'changes', 'reviews-50-50.yaml'), 'utf8')
        .replace('weight: 50', 'weight: 70')
        .replace('weight: 50', 'weight: 30');
      writeFileSync(file, text);
      const edgeAt = await apply(file, 'edge offline');
      const r = await rolloutAfter(prev, edgeAt);
      assert.equal(r.progress.state, 'completed', r.progress.reasons.join('; '));
      assert.deepEqual(r.progress.pendingEdgeSites, ['edge-1']);
      await demo.startNode(edge.node);
      const deadline = Date.now() + 60_000;
      let acked = '';
      while (Date.now() < deadline) {
        const dump = (await (
          await fetch(`http://${edge.ip}:${edge.adminPort}/config_dump`).catch(() => undefined)
        )
          ?.json()
          .catch(() => undefined)) as { xds: { version: string } } | undefined;
        acked = dump?.xds.version ?? '';
        if (acked === h.controller.latest!.version) break;
        await sleep(500);
      }
      assert.equal(
        acked,
        h.controller.latest!.version,
        'the edge node runs the current version after reconnecting',
      );
    });

    it('lost no request during the whole scenario', async () => {
      background.stop = true;
      await background.done;
      assert.ok(background.ok > 50, `background requests: ${background.ok}`);
      assert.deepEqual(background.failed, []);
    });
  },
);
