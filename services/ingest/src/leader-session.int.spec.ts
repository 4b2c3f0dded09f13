import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { tempDatabase, type TempDatabase } from '@shoal/testkit';
import { fenceLeaderSession } from './ingest.js';

const LOCK = "select pg_try_advisory_lock(hashtext('shoal-ingest:fence-test')) as ok";

describe('ingest leader session fencing (real PostgreSQL)', () => {
  let db: TempDatabase;
  const clients: pg.Client[] = [];
  const client = async () => {
    const c = new pg.Client({ connectionString: db.url });
    c.on('error', () => undefined); // a terminated session reports through its next query too
    await c.connect();
    clients.push(c);
    return c;
  };
  const show = async (c: pg.Client, name: string) =>
    (await c.query<Record<string, string>>(`show ${name}`)).rows[0]![name];

  before(async () => {
    db = await tempDatabase('shoal_fence');
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await db.drop();
  });

  it('derives the keepalive probes from the stall timeout (a dead host is dropped in about that time)', async () => {
    const c = await client();
    await fenceLeaderSession(c, 30_000, 'fence-test');
    assert.equal(await show(c, 'idle_in_transaction_session_timeout'), '30s');
    // The test server is reached over TCP, where the settings take effect (SHOW reports them).
    assert.equal(await show(c, 'tcp_keepalives_idle'), '10');
    assert.equal(await show(c, 'tcp_keepalives_interval'), '5');
    assert.equal(await show(c, 'tcp_keepalives_count'), '4');
    assert.equal(await show(c, 'application_name'), 'shoal-ingest leader fence-test');
  });

  it('a leader stalled inside a transaction loses its session and the lock to a standby', async () => {
    const leader = await client();
    assert.equal((await leader.query<{ ok: boolean }>(LOCK)).rows[0]!.ok, true);
    await fenceLeaderSession(leader, 1500, 'fence-test');
    await leader.query('begin');
    await leader.query('select 1');
    const t0 = Date.now();
    // The leader now stalls (a frozen process would look the same to PostgreSQL).
    const standby = await client();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(
      (await standby.query<{ ok: boolean }>(LOCK)).rows[0]!.ok,
      false,
      'the lock is held while the stall is shorter than the timeout',
    );
    let took: number | undefined;
    while (Date.now() - t0 < 10_000) {
      if ((await standby.query<{ ok: boolean }>(LOCK)).rows[0]!.ok) {
        took = Date.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(took !== undefined, 'the standby got the lock');
    assert.ok(took >= 1400 && took < 5000, `released after the 1.5 s timeout, took ${took} ms`);
    // The old leader, resuming, cannot commit anything: its session is gone.
    await assert.rejects(leader.query('commit'), /idle-in-transaction|terminat|Connection/i);
  });
});
