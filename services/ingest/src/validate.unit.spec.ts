import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceEvent } from './fixtures.js';
import { checkMessage } from './validate.js';

const enc = new TextEncoder();
const limits = { maxEventBytes: 2048 };
const subject = 'shoal.ev.east.Service';

describe('checkMessage', () => {
  const e = resourceEvent('east', 'web', 1);

  it('accepts a valid event on its own cluster subject', () => {
    const r = checkMessage({ subject, data: enc.encode(JSON.stringify(e)), msgId: e.id }, limits);
    assert.equal(r.ok, true);
  });

  const cases: [string, Parameters<typeof checkMessage>[0], string, RegExp][] = [
    [
      'an oversized payload',
      { subject, data: new Uint8Array(4096) },
      'too-large',
      /4096 bytes; the limit is 2048/,
    ],
    [
      'a subject outside shoal.ev.<cluster>.<kind>',
      { subject: 'shoal.ev.east', data: enc.encode('{}') },
      'bad-subject',
      /not shoal\.ev/,
    ],
    [
      'malformed JSON',
      { subject, data: enc.encode('{"id":') },
      'malformed-json',
      /not valid UTF-8 JSON/,
    ],
    [
      'invalid UTF-8',
      { subject, data: new Uint8Array([0x7b, 0xff, 0x7d]) },
      'malformed-json',
      /not valid UTF-8 JSON/,
    ],
    [
      'a NUL character',
      {
        subject,
        data: enc.encode(JSON.stringify({ ...e, data: { ...e.data, spec: { s: '\u0000' } } })),
      },
      'invalid-envelope',
      /NUL character/,
    ],
    [
      'a lone UTF-16 surrogate',
      {
        subject,
        data: enc.encode(JSON.stringify(e).replace('"name":"web"', '"name":"web\\ud800"')),
      },
      'invalid-envelope',
      /lone UTF-16 surrogate/,
    ],
    [
      'a wrong schema version',
      { subject, data: enc.encode(JSON.stringify({ ...e, schemaVersion: 3 })) },
      'unsupported-schema-version',
      /schemaVersion: 3/,
    ],
    [
      'a Nats-Msg-Id that is not the event id',
      { subject, data: enc.encode(JSON.stringify(e)), msgId: 'other' },
      'invalid-envelope',
      /must equal the event id/,
    ],
    [
      'another cluster in metadata',
      { subject: 'shoal.ev.west.Service', data: enc.encode(JSON.stringify(e)) },
      'cluster-mismatch',
      /metadata\.cluster "east" may not be written to subject shoal\.ev\.west\.Service/,
    ],
  ];
  for (const [what, msg, reason, detail] of cases) {
    it(`dead-letters ${what} as ${reason}`, () => {
      const r = checkMessage(msg, limits);
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.reason, reason);
        assert.match(r.detail, detail);
      }
    });
  }
});
