import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TypeUrls, decodeMessage, encodeMessage, toAny } from './index.js';

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
});
