import assert from 'node:assert/strict';
import { existsSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import {
  TypeUrls,
  decodeMessage,
  encodeMessage,
  parsedProtoRoot,
  protoRoot,
  pruneStaleSchemas,
  schemaCacheFile,
  toAny,
} from './index.js';

describe('proto: Envoy v3 types from @grpc/grpc-js-xds', () => {
  it('round-trips a Listener with an HttpConnectionManager typed config', () => {
    const hcm = toAny(
      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      { statPrefix: 'ingress', rds: { routeConfigName: 'web', configSource: { ads: {} } } },
    );
    const bytes = encodeMessage(TypeUrls.listener, {
      name: 'ingress-80',
      address: { socketAddress: { address: '0.0.0.0', portValue: 80 } },
      filterChains: [
        { filters: [{ name: 'envoy.filters.network.http_connection_manager', typedConfig: hcm }] },
      ],
    });
    const back = decodeMessage(TypeUrls.listener, bytes) as {
      name: string;
      address: { socketAddress: { portValue: number } };
      filterChains: { filters: { typedConfig: { type_url: string; value: Uint8Array } }[] }[];
    };
    assert.equal(back.name, 'ingress-80');
    assert.equal(back.address.socketAddress.portValue, 80);
    const typed = back.filterChains[0]!.filters[0]!.typedConfig;
    assert.equal(typed.type_url, hcm.type_url, 'the typed config keeps its type URL');
    const inner = decodeMessage(typed.type_url, typed.value) as { statPrefix: string };
    assert.equal(inner.statPrefix, 'ingress');
  });

  it('rejects a field of the wrong type with the type name in the message', () => {
    assert.throws(
      () => encodeMessage(TypeUrls.cluster, { name: 'web', connectTimeout: 'soon' }),
      /invalid type\.googleapis\.com\/envoy\.config\.cluster\.v3\.Cluster/,
    );
  });

  it('loads the cached, pruned schema with the same wire behaviour as the parsed .proto files', () => {
    const parsed = parsedProtoRoot();
    const cached = protoRoot();
    assert.ok(
      existsSync(schemaCacheFile()),
      'the pruned schema is kept on disk for the next process',
    );
    assert.notEqual(cached, parsed);
    const cluster = {
      name: 'outbound|80||web.shop.svc',
      type: 'EDS',
      connectTimeout: { seconds: 2, nanos: 500 },
      edsClusterConfig: { edsConfig: { ads: {} } },
      circuitBreakers: {
        thresholds: [{ maxConnections: { value: 10 }, maxRetries: { value: 3 } }],
      },
      outlierDetection: { consecutive_5xx: { value: 5 } },
    };
    const name = 'envoy.config.cluster.v3.Cluster';
    const bytes = (r: typeof cached) => {
      const t = r.lookupType(name);
      return Buffer.from(t.encode(t.fromObject(cluster)).finish()).toString('hex');
    };
    assert.equal(bytes(cached), bytes(parsed), 'same bytes from both schemas');
    const opts = { longs: String, enums: String, defaults: true, oneofs: true };
    const back = (r: typeof cached) =>
      r
        .lookupType(name)
        .toObject(r.lookupType(name).decode(Buffer.from(bytes(parsed), 'hex')), opts);
    assert.deepEqual(back(cached), back(parsed), 'same objects, defaults included');
    // What the cache leaves out: validation rules and annotations, which only document.
    assert.deepEqual(parsed.lookupType(name).fields.name!.options, {
      '(validate.rules).string.min_len': 1,
    });
    assert.equal(cached.lookupType(name).fields.name!.options, undefined);
    assert.equal(cached.lookupType(name).options, undefined);
  });

  it('removes schemas cached for other protos once an hour old, and nothing else', () => {
    protoRoot();
    const current = schemaCacheFile();
    const dir = dirname(current);
    const stale = join(dir, 'proto-00000000000000aa.json');
    const recent = join(dir, 'proto-00000000000000bb.json');
    const other = join(dir, 'proto-notes.txt');
    for (const f of [stale, recent, other]) writeFileSync(f, '{}');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    for (const f of [stale, other, current]) utimesSync(f, twoHoursAgo, twoHoursAgo);
    try {
      pruneStaleSchemas(current);
      assert.equal(existsSync(stale), false, 'an old schema of other protos goes');
      assert.equal(existsSync(recent), true, 'a recent one may still be read by a process');
      assert.equal(existsSync(other), true, 'files that are not schemas stay');
      assert.equal(existsSync(current), true, 'the current schema stays, however old');
    } finally {
      for (const f of [stale, recent, other]) rmSync(f, { force: true });
    }
  });
});
