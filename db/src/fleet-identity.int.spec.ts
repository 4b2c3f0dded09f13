import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { tempDatabase, type TempDatabase } from '@shoal/testkit';
import { fleetIdentity, fleetRolloutScope } from './fleet-identity.js';
import { migrateDatabase } from './migrate.js';

describe('fleet identity (real PostgreSQL)', () => {
  const dbs: TempDatabase[] = [];
  const pools: pg.Pool[] = [];
  before(async () => {
    for (const name of ['shoal_fleet_a', 'shoal_fleet_b']) {
      const db = await tempDatabase(name);
      dbs.push(db);
      await migrateDatabase(db.url);
      pools.push(new pg.Pool({ connectionString: db.url, max: 2 }));
    }
  });
  after(async () => {
    for (const p of pools) await p.end();
    for (const db of dbs) await db.drop();
  });

  it('is made once per store, survives a second migration, and differs between stores', async () => {
    const [a, b] = pools as [pg.Pool, pg.Pool];
    const first = await fleetIdentity(a);
    assert.match(first, /^[0-9a-f-]{36}$/);
    await migrateDatabase(dbs[0]!.url);
    assert.equal(await fleetIdentity(a), first, 'a restart does not make a new identity');
    assert.notEqual(await fleetIdentity(b), first);
    assert.notEqual(fleetRolloutScope(await fleetIdentity(b)), fleetRolloutScope(first));
    assert.match(fleetRolloutScope(first), /^fleet-[0-9a-f]{12}$/);
  });

  it('is one row that cannot be duplicated', async () => {
    const [a] = pools as [pg.Pool];
    await assert.rejects(a.query('insert into fleet_identity default values'), /duplicate key/);
    await assert.rejects(
      a.query('insert into fleet_identity (singleton) values (false)'),
      /check constraint/,
    );
  });

  it('a store without the row says what to do instead of naming a wrong scope', async () => {
    const [a] = pools as [pg.Pool];
    const client = await a.connect();
    try {
      await client.query('begin');
      await client.query('delete from fleet_identity');
      await assert.rejects(fleetIdentity(client), /run the migrations/);
    } finally {
      await client.query('rollback');
      client.release();
    }
  });
});
