import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { freePort, silentLogger } from '@shoal/common';
import { requireEnv } from '@shoal/testkit';
import { probeNats, probeTemporal, startStack } from './index.js';

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('local stack', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'shoal-stack-'));
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('starts what is not running, reuses what is, and stops only what it started', async () => {
    const dataDir = tempDir();
    const [np, pp, tp] = [await freePort(), await freePort(), await freePort()];
    const defaults = {
      natsUrl: `nats://127.0.0.1:${np}`,
      databaseUrl: `postgres://postgres@127.0.0.1:${pp}/shoal`,
      temporalAddress: `127.0.0.1:${tp}`,
    };
    const opts = { dataDir, temporalNamespace: 'default', defaults };
    const first = await startStack(opts, silentLogger());
    const pids = [first.nats, first.postgres, first.temporal].map((p) => p.process?.pid);
    try {
      assert.deepEqual(
        [first.nats.reused, first.postgres.reused, first.temporal.reused],
        [false, false, false],
      );
      // Servers listen where the defaults said, on loopback.
      assert.equal(first.nats.url, defaults.natsUrl);
      assert.equal(first.temporal.url, defaults.temporalAddress);
      assert.equal(await probeNats(first.nats.url), 'ok');
      assert.equal(await probeTemporal(first.temporal.url, 'default'), 'ok');
      const c = new pg.Client({ connectionString: first.postgres.url });
      await c.connect();
      const { rows } = await c.query(
        'select current_database() as db, inet_server_addr()::text as addr',
      );
      await c.end();
      assert.deepEqual(rows[0], { db: 'shoal', addr: '127.0.0.1/32' });

      // "npm start twice in a row": the second reuses everything and owns nothing.
      const second = await startStack(opts, silentLogger());
      assert.deepEqual(
        [second.nats.reused, second.postgres.reused, second.temporal.reused],
        [true, true, true],
      );
      await second.stop();
      assert.equal(await probeNats(first.nats.url), 'ok', 'stopping the second stops nothing');
    } finally {
      await first.stop();
    }
    assert.equal(pids.filter((p) => p !== undefined).length, 3);
    for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} is gone`);
    assert.equal(await probeNats(defaults.natsUrl), 'down');
  });

  it('refuses an explicitly configured server that does not answer, saying what to do', async () => {
    const port = await freePort();
    await assert.rejects(
      startStack(
        {
          dataDir: tempDir(),
          temporalNamespace: 'default',
          natsUrl: `nats://127.0.0.1:${port}`,
          databaseUrl: requireEnv('DATABASE_URL'),
          temporalAddress: requireEnv('TEMPORAL_ADDRESS'),
        },
        silentLogger(),
      ),
      new RegExp(
        `NATS_URL=nats://127.0.0.1:${port} is not reachable: start that server, or unset NATS_URL`,
      ),
    );
  });

  it('npm start: prints where the stack listens and exits cleanly on Ctrl-C (SIGINT)', async () => {
    const root = resolve(import.meta.dirname, '..', '..', '..');
    const child = spawn(process.execPath, ['--import', 'tsx', 'deploy/src/main.ts', '--no-demo'], {
      cwd: root,
      env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'warn', SHOAL_DATA_DIR: tempDir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const deadline = Date.now() + 60_000;
    while (!out.includes('Press Ctrl-C to stop') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(out, /Shoal is up/);
    assert.match(
      out,
      new RegExp(
        `nats\\s+${requireEnv('NATS_URL').replace(/[.]/g, '\\.')}\\s+\\(already running: reused\\)`,
      ),
    );
    assert.match(out, /temporal\s+\S+\s+\(already running: reused\)/);
    // It keeps running (with nothing of its own to run) until told to stop.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(child.exitCode, null, `npm start exited on its own:\n${out}`);
    child.kill('SIGINT');
    assert.equal(await exited, 0, out);
    // The reused servers are left running.
    assert.equal(await probeNats(requireEnv('NATS_URL')), 'ok');
  });
});
