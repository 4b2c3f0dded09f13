import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TypeUrls, type XdsResource } from '@shoal/proto';
import { weightedService } from '../testing/fixtures.js';
import { snapshotOf } from './snapshot.js';
import { SotwStream, type SotwRequest } from './sotw.js';
import type { SotwResponse } from './types.js';

const T = TypeUrls;
const svc = (weights: [number, number], extra: string[] = []) =>
  weightedService({
    listener: 'svc',
    route: 'r',
    backends: [
      { cluster: 'c-a', port: 1001, weight: weights[0] },
      { cluster: 'c-b', port: 1002, weight: weights[1] },
      ...extra.map((c, i) => ({ cluster: c, port: 2000 + i, weight: 0 })),
    ],
  });
const req = (typeUrl: string, o: Partial<SotwRequest> = {}): SotwRequest => ({
  typeUrl,
  versionInfo: '',
  responseNonce: '',
  resourceNames: [],
  ...o,
});
const ack = (r: SotwResponse, names: string[] = []): SotwRequest =>
  req(r.typeUrl, { versionInfo: r.versionInfo, responseNonce: r.nonce, resourceNames: names });
const names = (r: SotwResponse) => r.resources.map((x: XdsResource) => x.name).sort();

describe('SotW stream', () => {
  it('answers a wildcard CDS request with the full set, and an ACK moves the type to that version', () => {
    const s = new SotwStream(snapshotOf('v1', svc([5, 5])));
    const { responses } = s.onRequest(req(T.cluster));
    assert.equal(responses.length, 1);
    assert.deepEqual(names(responses[0]!), ['c-a', 'c-b']);
    assert.equal(responses[0]!.versionInfo, 'v1');
    const step = s.onRequest(ack(responses[0]!));
    assert.deepEqual(step.responses, []);
    assert.equal(step.events[0]?.kind, 'acked');
    assert.equal(s.progress()[0]?.at, 'v1');
  });

  it('a NACK (error_detail) keeps the previous version as the one the client runs, and nothing is resent', () => {
    const s = new SotwStream(snapshotOf('v1', svc([5, 5])));
    const [r1] = s.onRequest(req(T.cluster)).responses;
    s.onRequest(ack(r1!));
    const [r2] = s.onSnapshot(snapshotOf('v2', svc([5, 5], ['c-x']))).responses;
    const step = s.onRequest({
      ...ack(r2!),
      versionInfo: 'v1',
      errorDetail: { code: 3, message: 'bad cluster c-x' },
    });
    assert.deepEqual(
      step.events.map((e) => e.kind),
      ['rejected'],
    );
    assert.equal(step.events[0]?.kind === 'rejected' && step.events[0].message, 'bad cluster c-x');
    assert.equal(s.progress()[0]?.at, 'v1');
    assert.deepEqual(s.progress()[0]?.nack, { version: 'v2', message: 'bad cluster c-x' });
    // The same content again (a re-published snapshot): the client would NACK it again.
    assert.deepEqual(s.onSnapshot(snapshotOf('v2b', svc([5, 5], ['c-x']))).responses, []);
    // A fixed version goes out.
    assert.equal(s.onSnapshot(snapshotOf('v3', svc([5, 5]))).responses.length, 1);
  });

  it('ignores a request whose nonce is not the latest one of its type', () => {
    const s = new SotwStream(snapshotOf('v1', svc([5, 5])));
    const [r1] = s.onRequest(req(T.cluster)).responses;
    const [r2] = s
      .onSnapshot(snapshotOf('v2', svc([1, 9], ['c-x'])))
      .responses.filter((r) => r.typeUrl === T.cluster);
    const stale = s.onRequest(ack(r1!));
    assert.deepEqual(stale, { responses: [], events: [] });
    assert.equal(s.progress()[0]?.at, undefined);
    assert.equal(s.onRequest(ack(r2!)).events[0]?.kind, 'acked');
  });

  it('sends nothing when a new version does not change a type, and still counts the type as at that version', () => {
    const s = new SotwStream(snapshotOf('v1', svc([5, 5])));
    for (const t of [T.cluster, T.listener]) {
      const [r] = s.onRequest(req(t)).responses;
      s.onRequest(ack(r!));
    }
    const [rr] = s.onRequest(req(T.route, { resourceNames: ['r'] })).responses;
    s.onRequest(ack(rr!, ['r']));
    const step = s.onSnapshot(snapshotOf('v2', svc([2, 8])));
    assert.deepEqual(
      step.responses.map((r) => r.typeUrl),
      [T.route],
    );
    assert.deepEqual(
      s
        .progress()
        .filter((p) => p.typeUrl !== T.route)
        .map((p) => p.at),
      ['v2', 'v2'],
    );
  });

  it('remembers a named resource requested before it exists and sends it when it appears', () => {
    const s = new SotwStream(snapshotOf('v1', []));
    assert.deepEqual(s.onRequest(req(T.route, { resourceNames: ['r'] })).responses, []);
    const [r] = s.onSnapshot(snapshotOf('v2', svc([5, 5]))).responses;
    assert.equal(r?.typeUrl, T.route);
    assert.deepEqual(names(r!), ['r']);
  });

  it('pushes a change in make-before-break order and removes clusters last', () => {
    const s = new SotwStream(snapshotOf('v1', svc([5, 5], ['c-old'])));
    const subs: [string, string[]][] = [
      [T.cluster, []],
      [T.endpoint, ['c-a', 'c-b', 'c-old']],
      [T.listener, []],
      [T.route, ['r']],
    ];
    for (const [t, n] of subs) {
      const [r] = s.onRequest(req(t, { resourceNames: n })).responses;
      s.onRequest(ack(r!, n));
    }
    const { responses } = s.onSnapshot(snapshotOf('v2', svc([1, 9], ['c-new'])));
    assert.deepEqual(
      responses.map((r) => r.typeUrl),
      [T.cluster, T.endpoint, T.listener, T.route, T.cluster].filter((t) => t !== T.listener),
    );
    assert.deepEqual(
      names(responses[0]!),
      ['c-a', 'c-b', 'c-new', 'c-old'],
      'old cluster kept while routes move',
    );
    assert.deepEqual(names(responses.at(-1)!), ['c-a', 'c-b', 'c-new'], 'removed at the end');
    assert.equal(
      new Set(responses.map((r) => r.nonce)).size,
      responses.length,
      'one nonce per response',
    );
  });

  it('does not resend to a reconnecting client that reports the current version', () => {
    const s = new SotwStream(snapshotOf('v1', svc([5, 5])));
    assert.deepEqual(s.onRequest(req(T.cluster, { versionInfo: 'v1' })).responses, []);
    assert.equal(s.progress()[0]?.at, 'v1');
    const other = new SotwStream(snapshotOf('v2', svc([5, 5])));
    assert.equal(other.onRequest(req(T.cluster, { versionInfo: 'v1' })).responses.length, 1);
  });

  it('answers a named CDS/LDS request for a missing resource with an empty set (so the client knows), but not RDS/EDS', () => {
    const s = new SotwStream(snapshotOf('v1', svc([5, 5])));
    const [l] = s.onRequest(req(T.listener, { resourceNames: ['missing'] })).responses;
    assert.deepEqual(l?.resources, []);
    assert.deepEqual(s.onRequest(req(T.endpoint, { resourceNames: ['missing'] })).responses, []);
  });

  it('gives streams that ask for the same names of a snapshot the same resource list', () => {
    const v1 = snapshotOf('v1', svc([5, 5]));
    const push = (names: string[]) => {
      const s = new SotwStream(v1);
      const [r] = s.onRequest(req(T.endpoint, { resourceNames: names })).responses;
      return r!.resources;
    };
    const a = push(['c-a', 'c-b']);
    assert.equal(push(['c-a', 'c-b']), a, 'one list, encoded once for both');
    assert.notEqual(push(['c-a']), a);
    assert.deepEqual(
      push(['c-a']).map((r) => r.name),
      ['c-a'],
    );
  });
});
