import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RunnerGroup, type Runner } from './lifecycle.js';
import { silentLogger } from './logger.js';

function recorder(
  log: string[],
  name: string,
  start: () => Promise<void> = async () => {},
): Runner {
  return {
    name,
    async start() {
      log.push(`start ${name}`);
      await start();
    },
    async close() {
      log.push(`close ${name}`);
    },
  };
}

describe('RunnerGroup', () => {
  it('closes runners newest first', async () => {
    const log: string[] = [];
    const g = new RunnerGroup(silentLogger());
    await g.start([recorder(log, 'a'), recorder(log, 'b')]);
    await g.close();
    assert.deepEqual(log, ['start a', 'start b', 'close b', 'close a']);
  });

  it('also closes a runner that is still starting when shutdown begins (no orphaned children)', async () => {
    const log: string[] = [];
    const g = new RunnerGroup(silentLogger());
    let release!: () => void;
    const starting = g.start([
      recorder(log, 'a'),
      recorder(log, 'slow', () => new Promise<void>((r) => (release = r))),
    ]);
    await new Promise((r) => setImmediate(r));
    await g.close();
    assert.deepEqual(log, ['start a', 'start slow', 'close slow', 'close a']);
    release();
    await starting;
  });

  it('closes what started when a later runner fails to start, and reports every close failure', async () => {
    const log: string[] = [];
    const g = new RunnerGroup(silentLogger());
    await assert.rejects(
      g.start([
        recorder(log, 'a'),
        recorder(log, 'bad', () => Promise.reject(new Error('port in use'))),
      ]),
      /port in use/,
    );
    await g.close();
    assert.deepEqual(log, ['start a', 'start bad', 'close bad', 'close a']);
  });
});
