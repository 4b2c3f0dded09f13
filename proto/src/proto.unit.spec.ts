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
    };
    assert.equal(back.name, 'ingress-80');
    assert.equal(back.address.socketAddress.portValue, 80);
  });

  it('rejects a field of the wrong type with the type name in the message', () => {
    assert.throws(
      () => encodeMessage(TypeUrls.cluster, { name: 'web', connectTimeout: 'soon' }),
      /invalid type\.googleapis\.com\/envoy\.config\.cluster\.v3\.Cluster/,
    );
  });
});
