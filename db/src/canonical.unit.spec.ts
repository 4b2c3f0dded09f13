import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, sha256Hex } from './canonical.js';
import { hashEvent } from './event-store.js';
import { newEventId, resourceStream, validateEnvelope } from './envelope.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } }),
      '{"a":{"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('is a function of the value, not of key order, and round-trips through JSON.parse', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = canonicalJson(v);
        const shuffled = JSON.parse(JSON.stringify(v), function (this: unknown, _k, val: unknown) {
          if (val && typeof val === 'object' && !Array.isArray(val)) {
            return Object.fromEntries(Object.entries(val).reverse());
          }
          return val;
        }) as unknown;
        assert.equal(canonicalJson(shuffled), text);
        assert.equal(canonicalJson(JSON.parse(text)), text);
      }),
    );
  });

  it('refuses values JSON cannot carry', () => {
    assert.throws(() => canonicalJson({ a: Number.NaN }), /cannot encode NaN/);
    assert.throws(() => canonicalJson(10n), /bigint/);
  });
});

describe('validateEnvelope', () => {
  const data = {
    cluster: 'east',
    kind: 'Service',
    namespace: 'shop',
    name: 'web',
    spec: { port: 80 },
  };
  const valid = {
    id: newEventId(),
    stream: resourceStream(data),
    type: 'ResourceUpserted',
    data,
    metadata: {
      actor: 'agent:east',
      source: 'agent/kube',
      cluster: 'east',
      observedAt: new Date().toISOString(),
    },
    schemaVersion: 1,
  };

  it('given a well-formed ResourceUpserted: accepts it', () => {
    const r = validateEnvelope(valid);
    assert.equal(r.ok, true);
  });

  const cases: [string, unknown, string, RegExp][] = [
    ['a non-object', [1], 'invalid-envelope', /must be a JSON object/],
    [
      'a UUIDv4 id',
      { ...valid, id: '0b6f4b1e-4f0a-4c4b-9a7e-2a8f3d5c6b7a' },
      'invalid-envelope',
      /^id: expected a lowercase UUIDv7/,
    ],
    [
      'an unknown type',
      { ...valid, type: 'ResourceExploded' },
      'unknown-type',
      /"ResourceExploded" is not a known event type/,
    ],
    [
      'schema version 2',
      { ...valid, schemaVersion: 2 },
      'unsupported-schema-version',
      /2 of ResourceUpserted is not supported \(supported: 1\)/,
    ],
    [
      'missing metadata.actor',
      { ...valid, metadata: { ...valid.metadata, actor: '' } },
      'invalid-envelope',
      /metadata\.actor/,
    ],
    [
      'a stream that does not match the resource',
      { ...valid, stream: 'resource/west/Service/shop/web' },
      'invalid-envelope',
      /stream: expected "resource\/east\/Service\/shop\/web"/,
    ],
    [
      'a spec that is not an object',
      { ...valid, data: { ...data, spec: 'x' } },
      'invalid-envelope',
      /data\.spec: expected an object/,
    ],
  ];
  for (const [what, value, reason, detail] of cases) {
    it(`given ${what}: rejects it with reason ${reason} and the field`, () => {
      const r = validateEnvelope(value);
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.reason, reason);
        assert.match(r.detail, detail);
      }
    });
  }
});

describe('hashEvent', () => {
  it('equals sha256(prevHash, newline, canonical JSON of the hashed fields), with or without pre-encoded parts', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.string(),
        fc.nat(),
        (data, stream, version) => {
          const e = {
            id: '018f0000-0000-7000-8000-000000000000',
            stream,
            streamVersion: version,
            type: 'RolloutStarted',
            data: data as never,
            metadata: { actor: 'a', b: [1, { z: 1, a: 2 }] } as never,
            schemaVersion: 1,
            recordedAt: new Date(1_700_000_000_123),
          };
          const expected = sha256Hex(
            `p\n${canonicalJson({
              id: e.id,
              stream,
              version,
              type: e.type,
              data,
              metadata: e.metadata,
              schemaVersion: 1,
              recordedAt: e.recordedAt.toISOString(),
            })}`,
          );
          assert.equal(hashEvent('p', e), expected);
          const pre = { data: canonicalJson(data), metadata: canonicalJson(e.metadata) };
          assert.equal(hashEvent('p', e, pre), expected);
        },
      ),
    );
  });
});
