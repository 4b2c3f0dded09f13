import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '@shoal/common';
import { Registry } from 'prom-client';
import { backoffDelay, restartDecision, type Reply } from './actor.js';
import { Supervisor } from './supervisor.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fast = { initialBackoffMs: 5, maxBackoffMs: 40, maxRestarts: 3, windowMs: 10_000 };

type Msg =
  | { kind: 'add'; n: number }
  | { kind: 'boom' }
  | { kind: 'slow'; ms: number; log: string[]; tag: string }
  | { kind: 'get'; reply: Reply<number> };

function counter(starts: { n: number }) {
  return () => {
    starts.n++;
    let total = 0; // state of this incarnation only
    return {
      async receive(m: Msg) {
        if (m.kind === 'add') total += m.n;
        else if (m.kind === 'boom') throw new Error('boom');
        else if (m.kind === 'slow') {
          m.log.push(`start ${m.tag}`);
          await sleep(m.ms);
          m.log.push(`end ${m.tag}`);
        } else m.reply.resolve(total);
      },
    };
  };
}

describe('actor runtime', () => {
  it('processes one message at a time, in order', async () => {
    const sup = new Supervisor({ name: 't', logger: silentLogger() });
    const ref = sup.spawn<Msg>('a', counter({ n: 0 }), fast);
    const log: string[] = [];
    ref.tell({ kind: 'slow', ms: 20, log, tag: '1' });
    ref.tell({ kind: 'slow', ms: 1, log, tag: '2' });
    await ref.ask<number>((reply) => ({ kind: 'get', reply }));
    assert.deepEqual(log, ['start 1', 'end 1', 'start 2', 'end 2']);
    await sup.stopAll();
  });

  it('restarts a crashed actor with fresh state, counts the crash and keeps the mailbox', async () => {
    const registry = new Registry();
    const sup = new Supervisor({ name: 't', logger: silentLogger(), registry });
    const starts = { n: 0 };
    const ref = sup.spawn<Msg>('a', counter(starts), fast);
    ref.tell({ kind: 'add', n: 5 });
    ref.tell({ kind: 'boom' });
    ref.tell({ kind: 'add', n: 2 }); // queued behind the crash, handled by the new incarnation
    const total = await ref.ask<number>((reply) => ({ kind: 'get', reply }));
    assert.equal(total, 2, 'state is not carried across a restart');
    assert.equal(starts.n, 2);
    const st = sup.status()[0]!;
    assert.equal(st.restarts, 1);
    assert.equal(st.crashes, 1);
    assert.match(
      await registry.metrics(),
      /shoal_actor_crashes_total\{supervisor="t",actor="a"\} 1/,
    );
    await sup.stopAll();
  });

  it('rejects an ask whose message crashed the actor', async () => {
    const sup = new Supervisor({ name: 't', logger: silentLogger() });
    const ref = sup.spawn<{ reply: Reply<number> }>(
      'a',
      () => ({
        receive() {
          throw new Error('bad input');
        },
      }),
      fast,
    );
    await assert.rejects(
      ref.ask<number>((reply) => ({ reply })),
      /bad input/,
    );
    await sup.stopAll();
  });

  it('treats ctx.fail from a callback as a crash', async () => {
    const sup = new Supervisor({ name: 't', logger: silentLogger() });
    const starts = { n: 0 };
    sup.spawn<string>(
      'a',
      (ctx) => {
        starts.n++;
        if (starts.n === 1) setTimeout(() => ctx.fail(new Error('socket reset')), 5);
        return { receive() {} };
      },
      fast,
    );
    await sleep(60);
    assert.equal(starts.n, 2);
    assert.equal(sup.status()[0]!.lastError, 'socket reset');
    await sup.stopAll();
  });

  it('escalates after the restart budget, stops the actor and keeps the process up', async () => {
    const escalated: string[] = [];
    const sup = new Supervisor({
      name: 't',
      logger: silentLogger(),
      onEscalate: (a) => escalated.push(a),
    });
    const starts = { n: 0 };
    sup.spawn<string>(
      'flaky',
      () => {
        starts.n++;
        throw new Error('cannot start');
      },
      fast,
    );
    const t0 = Date.now();
    while (escalated.length === 0 && Date.now() - t0 < 2000) await sleep(5);
    assert.deepEqual(escalated, ['flaky']);
    assert.equal(starts.n, 1 + fast.maxRestarts);
    assert.equal(sup.status()[0]!.state, 'failed');
    await sup.stopAll();
  });

  it('computes exponential backoff with a cap and a sliding restart window', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((n) => backoffDelay(fast, n)),
      [5, 10, 20, 40, 40],
    );
    const d1 = restartDecision(fast, [0, 1, 2], 5);
    assert.equal(d1.escalate, true);
    const d2 = restartDecision(fast, [0, 1, 2], 20_000); // old restarts left the window
    assert.deepEqual(d2, { recent: [], escalate: false, delayMs: 5 });
  });
});
