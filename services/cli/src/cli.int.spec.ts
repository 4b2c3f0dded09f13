import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { Registry } from 'prom-client';
import { silentLogger, waitFor } from '@shoal/common';
import { EventStore } from '@shoal/db';
import {
  ApiServer,
  InMemoryTokenRegistry,
  NatsEventWriter,
  mintToken,
  storeHandlers,
} from '@shoal/api';
import { createIngest, ingestConfig, type Ingest } from '@shoal/ingest';
import { createProjector, projectorConfig, type Projector } from '@shoal/projector';
import {
  createTestPki,
  startNatsServer,
  tempDatabase,
  type TempDatabase,
  type TestNatsServer,
} from '@shoal/testkit';
import { main } from './main.js';

const testdata = join(import.meta.dirname, '..', 'testdata');

// The CLI against a real API server (TLS gRPC) on the real write path: NATS JetStream → ingest
// → PostgreSQL event store. Only the CLI's process boundary is skipped (main() runs in-process).
describe('shoal CLI end to end (real NATS, PostgreSQL, ingest, API)', () => {
  let nats: TestNatsServer;
  let db: TempDatabase;
  let ingest: Ingest;
  let projector: Projector;
  let nc: NatsConnection;
  let pool: pg.Pool;
  let api: ApiServer;
  let dir: string;
  const tokens: Record<string, string> = {};

  const shoal = async (role: string | undefined, ...argv: string[]) => {
    let out = '';
    const errs: string[] = [];
    const origErr = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (
      errs.push(String(s)),
      true
    )) as typeof process.stderr.write;
    const prev = process.env.SHOAL_TOKEN;
    if (role) process.env.SHOAL_TOKEN = tokens[role];
    else delete process.env.SHOAL_TOKEN;
    try {
      const code = await main(argv, { out: (t) => void (out += t), isTTY: false });
      return { code, out, err: errs.join('') };
    } finally {
      process.stderr.write = origErr;
      if (prev === undefined) delete process.env.SHOAL_TOKEN;
      else process.env.SHOAL_TOKEN = prev;
    }
  };
  const eventCount = async () =>
    Number((await pool.query('select count(*) as n from events')).rows[0].n);

  before(async () => {
    [nats, db] = await Promise.all([startNatsServer(), tempDatabase('shoal_cli')]);
    ingest = createIngest(
      ingestConfig({
        natsUrl: nats.url,
        databaseUrl: db.url,
        sealInterval: 0,
        ackWait: 2_000,
        pullExpires: 1_000,
      }),
      { logger: silentLogger(), registry: new Registry() },
    );
    await ingest.start();
    projector = createProjector(projectorConfig({ databaseUrl: db.url }), {
      logger: silentLogger(),
      registry: new Registry(),
    });
    await projector.start();
    nc = await connect({ servers: nats.url });
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
    const registry = new InMemoryTokenRegistry();
    for (const role of ['viewer', 'operator', 'auditor'] as const) {
      const t = mintToken(`${role}-1`, role, 'test', new Date());
      registry.put(t.record);
      tokens[role] = t.token;
    }
    const pki = await createTestPki();
    const cert = await pki.server();
    api = new ApiServer({
      host: '127.0.0.1',
      port: 0,
      tls: { certChain: cert.certPem, privateKey: cert.keyPem, clientCa: pki.caPem },
      tokens: registry,
      handlers: storeHandlers({
        store: new EventStore(pool),
        pool,
        writer: new NatsEventWriter(nc, pool),
      }),
      logger: silentLogger(),
    });
    await api.start();
    dir = mkdtempSync(join(tmpdir(), 'shoal-cli-'));
    writeFileSync(join(dir, 'ca.pem'), pki.caPem);
    process.env.SHOAL_SERVER = `127.0.0.1:${api.port}`;
    process.env.SHOAL_CA = join(dir, 'ca.pem');
  });

  after(async () => {
    await api.close();
    await projector.close();
    await ingest.close();
    await nc.close();
    await pool.end();
    await Promise.all([nats.dispose(), db.drop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies, lists, changes, shows history with actors and diffs, and travels back in time', async () => {
    const v1 = await shoal(
      'operator',
      'apply',
      '-f',
      join(testdata, 'route-v1.yaml'),
      '--reason',
      'canary split',
    );
    assert.equal(v1.code, 0, v1.err);
    assert.match(v1.out, /httproute\/shop\/reviews created in global/);
    const positionAfterV1 = Number(
      (await pool.query('select max(position) as p from events')).rows[0].p,
    );

    const again = await shoal('operator', 'apply', '-f', join(testdata, 'route-v1.yaml'));
    assert.match(again.out, /unchanged/);
    assert.equal(await eventCount(), 1, 'an unchanged apply appends nothing');

    const v2 = await shoal(
      'operator',
      'apply',
      '-f',
      join(testdata, 'route-v2.yaml'),
      '--reason',
      'even split',
    );
    assert.match(v2.out, /httproute\/shop\/reviews configured/);
    // `get` shows the resource's version (what `apply` checks a read against), once projected.
    let listed = '';
    await waitFor('get shows version 2', async () => {
      listed = (await shoal('viewer', 'get', 'httproute')).out;
      return /^global +shop +reviews +2 /m.test(listed);
    }).catch((err: Error) => assert.fail(`${err.message}: ${listed}`));

    const hist = await shoal('viewer', 'history', 'HTTPRoute/shop/reviews');
    assert.equal(hist.code, 0, hist.err);
    assert.match(hist.out, /v1 .* ResourceUpserted {2}by token:operator-1 {2}"canary split"/);
    assert.match(hist.out, /v2 .* ResourceUpserted {2}by token:operator-1 {2}"even split"/);
    assert.match(hist.out, /- +weight: 90\n +\+ +weight: 50/);

    const then = await shoal('viewer', 'state', '--at', String(positionAfterV1), '-o', 'json');
    assert.equal(then.code, 0, then.err + then.out);
    const state = JSON.parse(then.out) as {
      resources: { spec: { rules: { backendRefs: { weight: number }[] }[] } }[];
    };
    assert.deepEqual(
      state.resources[0]!.spec.rules[0]!.backendRefs.map((b) => b.weight),
      [90, 10],
    );
  });

  it('refuses a viewer and a caller without a token, and appends nothing', async () => {
    const before = await eventCount();
    const viewer = await shoal('viewer', 'apply', '-f', join(testdata, 'route-v1.yaml'));
    assert.equal(viewer.code, 5);
    assert.match(
      viewer.err,
      /permission denied: token:viewer-1 \(role viewer\) may not call Apply/,
    );
    const anonymous = await shoal(undefined, 'get', 'HTTPRoute');
    assert.equal(anonymous.code, 5);
    assert.match(anonymous.err, /not authenticated: no credentials/);
    assert.equal(await eventCount(), before);
  });

  it('reports every manifest error with file, line and field, exits 3, and sends nothing', async () => {
    const before = await eventCount();
    const res = await shoal('operator', 'apply', '-f', join(testdata, 'broken.yaml'));
    assert.equal(res.code, 3);
    assert.match(res.err, /nothing was applied/);
    assert.match(res.err, /broken\.yaml:10:\d+ .*spec\.rules\[0\]\.matches\[0\]\.path\.type/);
    assert.equal(await eventCount(), before);
  });

  it('lets an auditor verify the hash chain, and names the position of a tampered event', async () => {
    const ok = await shoal('auditor', 'audit', 'verify');
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /audit trail verified: \d+ events, hash chain intact/);
    const audit = await shoal('auditor', 'audit', '--actor', 'token:operator-1');
    assert.match(
      audit.out,
      /ResourceUpserted +token:operator-1 +global +HTTPRoute shop\/reviews +even split/,
    );

    const { rows } = await pool.query('select min(position) as p from events');
    const target = Number(rows[0].p);
    await pool.query('alter table events disable trigger user');
    await pool.query(
      `update events set data = jsonb_set(data, '{spec,spec,rules,0,backendRefs,0,weight}', '100') where position = $1`,
      [target],
    );
    await pool.query('alter table events enable trigger user');
    const broken = await shoal('auditor', 'audit', 'verify');
    assert.notEqual(broken.code, 0);
    assert.match(broken.err, new RegExp(`audit trail BROKEN at position ${target}`));
  });
});
