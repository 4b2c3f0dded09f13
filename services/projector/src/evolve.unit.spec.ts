import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  evolve,
  foldInto,
  resourceKey,
  type DesiredState,
  type FoldEvent,
  type ResourceRecord,
} from './evolve.js';

const key = { cluster: 'east', kind: 'Service', namespace: 'shop', name: 'web' };
let pos = 0;
const at = new Date('2025-03-01T10:00:00.000Z');
const upserted = (spec: Record<string, number>, extra: Record<string, string> = {}): FoldEvent => ({
  type: 'ResourceUpserted',
  data: { ...key, spec, ...extra },
  position: ++pos,
  recordedAt: at,
});
const deleted = (): FoldEvent => ({
  type: 'ResourceDeleted',
  data: { ...key },
  position: ++pos,
  recordedAt: at,
});

/** given (events so far) / when (event) / then (resource). */
function given(events: FoldEvent[]) {
  const current = events.reduce<ResourceRecord | undefined>((s, e) => evolve(s, e), undefined);
  return {
    when: (e: FoldEvent) => ({
      then: (expected: Partial<ResourceRecord> | undefined) => {
        const next = evolve(current, e);
        if (expected === undefined) assert.equal(next, undefined);
        else
          assert.deepEqual(next && { ...next }, {
            ...key,
            position: e.position,
            updatedAt: at.toISOString(),
            ...expected,
          });
      },
    }),
  };
}

describe('projector evolve (given / when / then)', () => {
  it('given nothing, when ResourceUpserted: then the resource exists with its spec', () =>
    given([])
      .when(upserted({ port: 80 }))
      .then({ spec: { port: 80 } }));

  it('given a resource, when ResourceUpserted again: then the spec is replaced, not merged', () =>
    given([upserted({ port: 80, replicas: 2 })])
      .when(upserted({ port: 8080 }))
      .then({ spec: { port: 8080 } }));

  it('given a resource, when ResourceDeleted: then it is gone', () =>
    given([upserted({ port: 80 })])
      .when(deleted())
      .then(undefined));

  it('given a deleted resource, when ResourceUpserted: then it is back', () =>
    given([upserted({ port: 80 }), deleted()])
      .when(upserted({ port: 81 }))
      .then({ spec: { port: 81 } }));

  it('given nothing, when ResourceDeleted: then still nothing', () =>
    given([]).when(deleted()).then(undefined));

  it('keeps the resourceVersion the source reported', () =>
    given([])
      .when(upserted({ port: 80 }, { resourceVersion: '42' }))
      .then({ spec: { port: 80 }, resourceVersion: '42' }));

  it('given a resource, when an unrelated event: then it is unchanged', () => {
    const r = evolve(undefined, upserted({ port: 1 }));
    assert.equal(
      evolve(r, { type: 'RolloutStarted', data: {}, position: ++pos, recordedAt: at }),
      r,
    );
  });

  it('foldInto applies a log per resource and reports the changed keys', () => {
    const state: DesiredState = new Map();
    const other = { ...key, name: 'api' };
    const changed = foldInto(state, [
      upserted({ port: 80 }),
      {
        type: 'ResourceUpserted',
        data: { ...other, spec: { port: 9 } },
        position: ++pos,
        recordedAt: at,
      },
      deleted(),
      { type: 'NodeConfigAcked', data: {}, position: ++pos, recordedAt: at },
    ]);
    assert.deepEqual([...state.keys()], [resourceKey(other)]);
    assert.deepEqual([...changed].sort(), [resourceKey(other), resourceKey(key)].sort());
  });
});
