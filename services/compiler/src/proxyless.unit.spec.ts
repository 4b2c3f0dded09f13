/**
 * The proxyless bundle must pass grpc-js-xds's own resource validation (the code a real
 * proxyless gRPC client runs before it ACKs), not just our reading of it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PROXYLESS_NODE, TypeUrls } from '@shoal/proto';
import { compileFleet } from './compiler.js';
import { parseCase } from './testing.js';

const require = createRequire(import.meta.url);
const base = join(
  require.resolve('@grpc/grpc-js-xds/package.json'),
  '..',
  'build',
  'src',
  'xds-resource-type',
);
type Decoder = {
  get(): {
    decode(ctx: unknown, r: { type_url: string; value: Buffer }): { name: string; error?: string };
  };
};
const load = (file: string, name: string) =>
  (require(join(base, file)) as Record<string, Decoder>)[name]!.get();
const decoders: Record<string, ReturnType<typeof load>> = {
  [TypeUrls.listener]: load('listener-resource-type.js', 'ListenerResourceType'),
  [TypeUrls.route]: load('route-config-resource-type.js', 'RouteConfigurationResourceType'),
  [TypeUrls.cluster]: load('cluster-resource-type.js', 'ClusterResourceType'),
  [TypeUrls.endpoint]: load('endpoint-resource-type.js', 'EndpointResourceType'),
};
// The client validates HTTP filters against its registry; register the router as the client does.
(require(join(base, '..', 'http-filter', 'router-filter.js')) as { setup(): void }).setup();
const context = { bootstrap: { certificateProviders: {} }, server: {} };

describe('proxyless bundle', () => {
  for (const name of [
    'proxyless-gamma-weighted',
    'proxyless-grpc-route',
    'multiple-ports-proxyless',
    'multicluster-namespace-sameness',
  ]) {
    it(`${name}: every resource is accepted by grpc-js-xds`, () => {
      const { state } = parseCase(
        readFileSync(join(import.meta.dirname, '..', 'testdata', `${name}.in.yaml`), 'utf8'),
        name,
      );
      const out = compileFleet(state);
      let checked = 0;
      for (const c of out.clusters.values()) {
        const bundle = c.nodes.get(PROXYLESS_NODE)!;
        for (const r of bundle.resources) {
          const d = decoders[r.typeUrl];
          assert.ok(d, `unexpected type ${r.typeUrl} in the proxyless bundle`);
          const res = d.decode(context, { type_url: r.typeUrl, value: Buffer.from(r.value) });
          assert.equal(res.error, undefined, `${r.typeUrl} ${r.name}: ${res.error}`);
          assert.equal(res.name, r.name);
          checked++;
        }
        const listeners = bundle.resources
          .filter((r) => r.typeUrl === TypeUrls.listener)
          .map((r) => r.name);
        assert.ok(
          listeners.includes('web.default.svc.cluster.local') ||
            listeners.includes('multi.default.svc.cluster.local'),
          listeners.join(', '),
        );
      }
      assert.ok(checked > 0);
    });
  }
});
