/**
 * `npm run bench -- compile`: full and incremental compile of a synthetic fleet (10 clusters,
 * 1,000 services, 2,000 workloads, 1,000 HTTPRoutes). Baseline measured in the same run: a
 * canonical hash of the whole desired state, the least any content-addressed compile must do.
 * Targets: incremental ≤ 0.05 × full; full ≤ 2,000 ms. Writes test/bench/results/compile.json.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IncrementalCompiler, compileFleet } from '@shoal/compiler';
import type { HTTPRoute, PlacedResource } from '@shoal/model';
import { protoRoot } from '@shoal/proto';

const CLUSTERS = 10;
const SERVICES = 1000;
const WORKLOADS_PER_SERVICE = 2;
const ROUTES = 1000;
const NODES_PER_CLUSTER = 10;
const NAMESPACES = 10;

function fleet(): PlacedResource[] {
  const out: PlacedResource[] = [];
  for (let c = 0; c < CLUSTERS; c++) {
    const cluster = `c${c}`;
    out.push({
      cluster,
      resource: {
        apiVersion: 'shoal.dev/v1alpha1',
        kind: 'Cluster',
        metadata: { name: cluster },
        spec: { network: `net-${c}`, region: `r${c % 3}` },
      },
    });
    out.push({
      cluster,
      resource: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'GatewayClass',
        metadata: { name: 'shoal' },
        spec: { controllerName: 'shoal.dev/gateway-controller' },
      },
    });
    out.push({
      cluster,
      resource: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'edge', namespace: 'gateways' },
        spec: {
          gatewayClassName: 'shoal',
          listeners: [
            {
              name: 'http',
              port: 80,
              protocol: 'HTTP',
              allowedRoutes: { namespaces: { from: 'All' } },
            },
          ],
        },
      },
    });
    for (let g = 0; g < 2; g++)
      out.push({
        cluster,
        resource: {
          apiVersion: 'shoal.dev/v1alpha1',
          kind: 'Workload',
          metadata: {
            name: `edge-${g}`,
            namespace: 'gateways',
            labels: { 'gateway.networking.k8s.io/gateway-name': 'edge' },
          },
          spec: { address: `10.${c}.255.${g + 1}`, node: `node-${g}` },
        },
      });
  }
  for (let i = 0; i < SERVICES; i++) {
    const cluster = `c${i % CLUSTERS}`;
    const ns = `ns${i % NAMESPACES}`;
    out.push({
      cluster,
      resource: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: `svc-${i}`, namespace: ns },
        spec: {
          selector: { app: `svc-${i}` },
          clusterIP: `10.96.${i >> 8}.${i & 255}`,
          ports: [{ name: 'http', port: 80, targetPort: 8080 }],
        },
      },
    });
    for (let w = 0; w < WORKLOADS_PER_SERVICE; w++) {
      const n = i * WORKLOADS_PER_SERVICE + w;
      out.push({
        cluster,
        resource: {
          apiVersion: 'shoal.dev/v1alpha1',
          kind: 'Workload',
          metadata: { name: `svc-${i}-${w}`, namespace: ns, labels: { app: `svc-${i}` } },
          spec: {
            address: `10.${i % CLUSTERS}.${(n >> 8) & 255}.${n & 255}`,
            node: `node-${n % NODES_PER_CLUSTER}`,
            serviceAccount: `svc-${i}`,
          },
        },
      });
    }
  }
  for (let i = 0; i < ROUTES; i++) out.push(route(i, 100));
  return out;
}

function route(i: number, weight: number): PlacedResource<HTTPRoute> {
  return {
    cluster: `c${i % CLUSTERS}`,
    resource: {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: `route-${i}`, namespace: `ns${i % NAMESPACES}` },
      spec: {
        parentRefs: [{ name: 'edge', namespace: 'gateways' }],
        hostnames: [`svc-${i}.example.com`],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
            backendRefs: [
              { name: `svc-${i}`, port: 80, weight },
              { name: `svc-${(i + 10) % SERVICES}`, port: 80, weight: 100 - weight + 1 },
            ],
          },
          { backendRefs: [{ name: `svc-${i}`, port: 80 }] },
        ],
      },
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const now = () => performance.now();

protoRoot(); // load schemas outside the timed region
const state = fleet();

// Baseline: canonical hash of the whole desired state.
const baseline: number[] = [];
for (let i = 0; i < 3; i++) {
  const t0 = now();
  const h = createHash('sha256');
  for (const p of state) h.update(JSON.stringify(p));
  h.digest('hex');
  baseline.push(now() - t0);
}

const full: number[] = [];
let resources = 0;
for (let i = 0; i < 3; i++) {
  const t0 = now();
  const out = compileFleet(state);
  full.push(now() - t0);
  resources = [...out.clusters.values()].reduce(
    (n, c) => n + [...c.nodes.values()].reduce((m, b) => m + b.resources.length, 0),
    0,
  );
}
const peakRssMb = process.resourceUsage().maxRSS / 1024;

const inc = new IncrementalCompiler().load(state);
const first = inc.output();
const incremental: number[] = [];
let lastVersion = first.clusters.get('c7')!.version;
for (let i = 0; i < 10; i++) {
  const t0 = now();
  inc.apply({ type: 'upsert', resource: route(7, i % 2 === 0 ? 50 : 100) });
  const out = inc.output();
  incremental.push(now() - t0);
  const v = out.clusters.get('c7')!.version;
  if (v === lastVersion) throw new Error('the changed route did not change the cluster version');
  lastVersion = v;
}

const result = {
  full_compile_ms: Math.round(median(full)),
  incremental_compile_ms: Math.round(median(incremental) * 100) / 100,
  peak_rss_mb: Math.round(peakRssMb),
  baseline_hash_state_ms: Math.round(median(baseline) * 100) / 100,
  incremental_to_full_ratio: Math.round((median(incremental) / median(full)) * 10000) / 10000,
  full_to_target_ratio: Math.round((median(full) / 2000) * 1000) / 1000,
  full_to_baseline_ratio: Math.round((median(full) / median(baseline)) * 10) / 10,
  fleet: {
    clusters: CLUSTERS,
    services: SERVICES,
    workloads: SERVICES * WORKLOADS_PER_SERVICE,
    http_routes: ROUTES,
    bundled_resources: resources,
  },
};
const dir = join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'compile.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(
  `full compile          ${result.full_compile_ms} ms   (target ≤ 2000 ms: ratio ${result.full_to_target_ratio}; baseline state hash ${result.baseline_hash_state_ms} ms, ×${result.full_to_baseline_ratio})`,
);
console.log(
  `incremental (1 route) ${result.incremental_compile_ms} ms   (target ≤ 0.05 × full: ratio ${result.incremental_to_full_ratio})`,
);
console.log(
  `peak RSS              ${result.peak_rss_mb} MB; ${resources} resources in all node bundles`,
);
console.log(
  result.full_to_target_ratio <= 1 && result.incremental_to_full_ratio <= 0.05
    ? 'targets met'
    : 'TARGETS MISSED',
);
