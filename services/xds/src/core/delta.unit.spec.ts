import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TypeUrls } from '@shoal/proto';
import { weightedService } from '../testing/fixtures.js';
import { DeltaStream, type DeltaRequest } from './delta.js';
import { snapshotOf } from './snapshot.js';
import type { DeltaResponse } from './types.js';

const T = TypeUrls;
const svc = (wa: number, extra: string[] = []) =>
  weightedService({
    listener: 'svc',
    route: 'r',
    backends: [
      { cluster: 'c-a', port: 1001, weight: wa },
      { cluster: 'c-b', port: 1002, weight: 10 - wa },
      ...extra.map((c, i) => ({ cluster: c, port: 2000 + i, weight: 0 })),
    ],
  });
const req = (typeUrl: string, o: Partial<DeltaRequest> = {}): DeltaRequest => ({
  typeUrl,
  responseNonce: '',
  resourceNamesSubscribe: [],
  resourceNamesUnsubscribe: [],
  initialResourceVersions: {},
  ...o,
});
const ack = (r: DeltaResponse) => req(r.typeUrl, { responseNonce: r.nonce });

describe('Delta stream', () => {
  it('sends every cluster to a wildcard subscriber, then only what changed', () => {
    const s = new DeltaStream(snapshotOf('v1', svc(5)));
    const [r1] = s.onRequest(req(T.cluster)).responses;
    assert.deepEqual(r1!.resources.map((r) => r.name).sort(), ['c-a', 'c-b']);
    assert.equal(s.onRequest(ack(r1!)).events[0]?.kind, 'acked');
    const { responses } = s.onSnapshot(snapshotOf('v2', svc(5, ['c-new'])));
    assert.deepEqual(
      responses.map((r) => r.resources.map((x) => x.name)),
      [['c-new']],
    );
  });

  it('on reconnect, initial_resource_versions avoid resending unchanged resources', () => {
    const snap = snapshotOf('v1', svc(5));
    const first = new DeltaStream(snap);
    const [r] = first.onRequest(req(T.cluster)).responses;
    const have = Object.fromEntries(r!.resources.map((x) => [x.name, x.version]));
    const again = new DeltaStream(snap);
    const step = again.onRequest(req(T.cluster, { initialResourceVersions: have }));
    assert.deepEqual(step.responses, []);
    assert.equal(again.progress()[0]?.at, 'v1');
    const stale = new DeltaStream(snap);
    const { responses } = stale.onRequest(
      req(T.cluster, { initialResourceVersions: { ...have, 'c-a': 'old', gone: 'x' } }),
    );
    assert.deepEqual(
      responses[0]?.resources.map((x) => x.name),
      ['c-a'],
    );
    assert.deepEqual(responses[0]?.removedResources, ['gone']);
  });

  it('removes after all additions went out, routes before clusters', () => {
    const s = new DeltaStream(snapshotOf('v1', svc(5, ['c-old'])));
    for (const [t, n] of [
      [T.cluster, []],
      [T.route, ['r']],
    ] as const) {
      const [r] = s.onRequest(req(t, { resourceNamesSubscribe: [...n] })).responses;
      s.onRequest(ack(r!));
    }
    const { responses } = s.onSnapshot(snapshotOf('v2', svc(2, ['c-new'])));
    assert.deepEqual(
      responses.map((r) => [r.typeUrl, r.resources.map((x) => x.name), r.removedResources]),
      [
        [T.cluster, ['c-new'], []],
        [T.route, ['r'], []],
        [T.cluster, [], ['c-old']],
      ],
    );
  });

  it('a NACK keeps the previous version; the names requested before they exist arrive later', () => {
    const s = new DeltaStream(snapshotOf('v1', []));
    assert.deepEqual(
      s.onRequest(req(T.endpoint, { resourceNamesSubscribe: ['c-a'] })).responses,
      [],
    );
    const [r] = s.onSnapshot(snapshotOf('v2', svc(5))).responses;
    assert.deepEqual(
      r?.resources.map((x) => x.name),
      ['c-a'],
    );
    const step = s.onRequest({ ...ack(r!), errorDetail: { message: 'no' } });
    assert.equal(step.events[0]?.kind, 'rejected');
    assert.equal(s.progress()[0]?.at, 'v1');
    assert.deepEqual(s.progress()[0]?.nack, { version: 'v2', message: 'no' });
  });

  it('unsubscribing forgets a resource, so subscribing again resends it', () => {
    const s = new DeltaStream(snapshotOf('v1', svc(5)));
    const [r] = s.onRequest(req(T.route, { resourceNamesSubscribe: ['r'] })).responses;
    s.onRequest(ack(r!));
    assert.deepEqual(s.onRequest(req(T.route, { resourceNamesUnsubscribe: ['r'] })).responses, []);
    assert.equal(s.onRequest(req(T.route, { resourceNamesSubscribe: ['r'] })).responses.length, 1);
  });
});
