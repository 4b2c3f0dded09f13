/**
 * The response encoder: its bytes must decode exactly as proto-loader's own encoding of the same
 * response (the nonce is appended after the other fields), whatever the nonce, and equal bodies
 * must be encoded once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TypeUrls } from '@shoal/proto';
import type { DeltaResponse, SotwResponse } from '../core/types.js';
import { benchResources } from '../testing/fixtures.js';
import { loadAdsService } from './ads.js';
import { ResponseEncoder } from './wire.js';

const ads = loadAdsService();
const methods = ads.definition as unknown as Record<
  'StreamAggregatedResources' | 'DeltaAggregatedResources',
  { responseDeserialize: (b: Buffer) => Record<string, unknown> }
>;
const decodeSotw = (b: Buffer) => methods.StreamAggregatedResources.responseDeserialize(b);
const decodeDelta = (b: Buffer) => methods.DeltaAggregatedResources.responseDeserialize(b);
const encoder = (maxCachedBytes?: number) =>
  new ResponseEncoder({
    serializeSotw: ads.serializeSotw,
    serializeDelta: ads.serializeDelta,
    controlPlane: 'shoal-xds/test',
    ...(maxCachedBytes === undefined ? {} : { maxCachedBytes }),
  });

const clusters = (k: number) => benchResources(k).filter((r) => r.typeUrl === TypeUrls.cluster);
const sotw = (k: number, nonce: string): SotwResponse => ({
  typeUrl: TypeUrls.cluster,
  versionInfo: `g${k}`,
  nonce,
  resources: clusters(k),
});
/** What proto-loader itself makes of the response, for comparison. */
const reference = (r: SotwResponse) =>
  decodeSotw(
    Buffer.from(
      ads.serializeSotw({
        version_info: r.versionInfo,
        resources: r.resources.map((x) => ({ type_url: x.typeUrl, value: x.value })),
        type_url: r.typeUrl,
        nonce: r.nonce,
        control_plane: { identifier: 'shoal-xds/test' },
      }),
    ),
  );

describe('ResponseEncoder', () => {
  it('encodes a DiscoveryResponse that decodes as proto-loader encodes it, for nonces of any length', () => {
    const e = encoder();
    for (const nonce of [
      '1',
      'a'.repeat(127),
      'b'.repeat(128),
      'é'.repeat(300),
      'z'.repeat(20_000),
    ]) {
      const r = sotw(1, nonce);
      assert.deepEqual(decodeSotw(e.sotw(r)), reference(r), `nonce of ${nonce.length} chars`);
    }
  });

  it('encodes the body of equal responses once and gives each stream its own nonce', () => {
    const e = encoder();
    const a = decodeSotw(e.sotw(sotw(1, '4')));
    const b = decodeSotw(e.sotw(sotw(1, '9')));
    const again = decodeSotw(e.sotw(sotw(1, '4')));
    assert.deepEqual(e.stats, { encoded: 1, reused: 2 });
    assert.deepEqual([a.nonce, b.nonce, again.nonce], ['4', '9', '4']);
    assert.deepEqual({ ...a, nonce: '' }, { ...b, nonce: '' });
  });

  it('recognises a resource list it encoded before without looking at its content', () => {
    const e = encoder(1); // nothing kept by content: only the list itself can be recognised
    const r = sotw(1, '1');
    e.sotw(r);
    const again = decodeSotw(e.sotw({ ...r, nonce: '2' }));
    assert.deepEqual(again, reference({ ...r, nonce: '2' }));
    assert.deepEqual(e.stats, { encoded: 1, reused: 1 });
    e.sotw({ ...r, versionInfo: 'g9' }); // same list, other version: not the same response
    assert.deepEqual(e.stats, { encoded: 2, reused: 1 });
  });

  it('encodes again when the content, the version or the type differs', () => {
    const e = encoder();
    e.sotw(sotw(1, '1'));
    e.sotw(sotw(2, '1')); // other resource versions
    e.sotw({ ...sotw(1, '1'), versionInfo: 'other' });
    e.sotw({ ...sotw(1, '1'), resources: clusters(1).slice(0, 1) });
    assert.deepEqual(e.stats, { encoded: 4, reused: 0 });
  });

  it('stays correct when its byte budget keeps nothing', () => {
    const e = encoder(1);
    for (let k = 0; k < 3; k++) {
      // Equal content in distinct lists: only the byte-budgeted cache could find it.
      for (const r of [sotw(k, String(k)), sotw(k, String(k))]) {
        assert.deepEqual(decodeSotw(e.sotw(r)), reference(r));
      }
    }
    assert.deepEqual(e.stats, { encoded: 6, reused: 0 });
  });

  it('encodes a DeltaDiscoveryResponse with resources and removals', () => {
    const e = encoder();
    const r: DeltaResponse = {
      typeUrl: TypeUrls.cluster,
      systemVersionInfo: 'g3',
      nonce: '7',
      resources: clusters(3),
      removedResources: ['c-old'],
    };
    const want = decodeDelta(
      Buffer.from(
        ads.serializeDelta({
          system_version_info: 'g3',
          resources: r.resources.map((x) => ({
            name: x.name,
            version: x.version,
            resource: { type_url: x.typeUrl, value: x.value },
          })),
          type_url: r.typeUrl,
          removed_resources: ['c-old'],
          nonce: '7',
        }),
      ),
    );
    assert.deepEqual(decodeDelta(e.delta(r)), want);
    assert.deepEqual(decodeDelta(e.delta({ ...r, nonce: '8' })).nonce, '8');
    const none = decodeDelta(e.delta({ ...r, removedResources: [] }));
    assert.equal(none.removed_resources, undefined, 'no removals (defaults: false omits them)');
    assert.deepEqual(e.stats, { encoded: 2, reused: 1 });
  });
});
