import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseManifestsOrThrow, type MeshResource } from '@shoal/model';
import { GLOBAL, type DesiredRow } from './placement.js';
import { nodeChanges, previewFleet } from './preview.js';

const row = (cluster: string, r: MeshResource): DesiredRow => ({
  cluster,
  kind: r.kind,
  namespace: r.metadata.namespace ?? '',
  name: r.metadata.name,
  spec: r,
});

const route = (v1: number, v2: number) =>
  parseManifestsOrThrow(`
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules:
    - backendRefs:
        - {name: reviews-v1, port: 9080, weight: ${v1}}
        - {name: reviews-v2, port: 9080, weight: ${v2}}
`)[0]!;

const fleet = parseManifestsOrThrow(`
apiVersion: shoal.dev/v1alpha1
kind: Cluster
metadata: {name: east}
spec: {}
`);
const east = parseManifestsOrThrow(`
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop, labels: {istio.io/use-waypoint: shop-waypoint}}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews-v1, namespace: shop}
spec: {selector: {app: reviews, version: v1}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews-v2, namespace: shop}
spec: {selector: {app: reviews, version: v2}, ports: [{name: http, port: 9080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shop-waypoint, namespace: shop}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: shoal.dev/v1alpha1
kind: Workload
metadata: {name: waypoint-1, namespace: shop, labels: {gateway.networking.k8s.io/gateway-name: shop-waypoint}}
spec: {address: 10.0.0.1, node: n1, serviceAccount: shop-waypoint}
---
apiVersion: shoal.dev/v1alpha1
kind: Workload
metadata: {name: reviews-v1, namespace: shop, labels: {app: reviews, version: v1}}
spec: {address: 10.0.0.2, node: n2, serviceAccount: reviews}
---
apiVersion: shoal.dev/v1alpha1
kind: Workload
metadata: {name: reviews-v2, namespace: shop, labels: {app: reviews, version: v2}}
spec: {address: 10.0.0.3, node: n2, serviceAccount: reviews}
`);

const rows: DesiredRow[] = [
  ...fleet.map((r) => row(GLOBAL, r)),
  row(GLOBAL, route(90, 10)),
  ...east.map((r) => row('east', r)),
];
const current = previewFleet(rows, []);
const key = { cluster: GLOBAL, kind: 'HTTPRoute', namespace: 'shop', name: 'reviews' };

describe('diff per node (previewFleet + nodeChanges)', () => {
  it('given a new route weight, names the node hosting the waypoint and its changed route, and no other node', () => {
    const changes = nodeChanges(current, previewFleet(rows, [{ ...key, spec: route(50, 50) }]));
    const waypointNode = changes.filter((c) => c.node === 'n1');
    assert.equal(waypointNode.length, 1, JSON.stringify(changes));
    assert.equal(waypointNode[0]!.cluster, 'east');
    assert.ok(
      waypointNode[0]!.changedResources.some((r) => /^RouteConfiguration\/.* changed$/.test(r)),
      JSON.stringify(waypointNode[0]),
    );
    assert.notEqual(waypointNode[0]!.fromVersion, waypointNode[0]!.toVersion);
    assert.equal(current.clusters.get('east')!.version, waypointNode[0]!.fromVersion);
    assert.ok(
      !changes.some((c) => c.node === 'n2'),
      'n2 hosts no waypoint: its config is the same',
    );
  });

  it('given the same spec again, reports no node change', () => {
    assert.deepEqual(
      nodeChanges(current, previewFleet(rows, [{ ...key, spec: route(90, 10) }])),
      [],
    );
  });

  it('given a deletion, reports the removed resources', () => {
    const changes = nodeChanges(current, previewFleet(rows, [key]));
    const n1 = changes.find((c) => c.node === 'n1');
    assert.ok(
      n1?.changedResources.some((r) => / (removed|changed)$/.test(r)),
      JSON.stringify(changes),
    );
  });

  it('given a new cluster, lists its nodes with an empty from-version', () => {
    const west = parseManifestsOrThrow(`
apiVersion: shoal.dev/v1alpha1
kind: Workload
metadata: {name: w, namespace: shop, labels: {app: reviews, version: v1}}
spec: {address: 10.1.0.1, node: w1, serviceAccount: reviews}
`)[0]!;
    const changes = nodeChanges(
      current,
      previewFleet(rows, [
        {
          cluster: GLOBAL,
          kind: 'Cluster',
          namespace: '',
          name: 'west',
          spec: parseManifestsOrThrow(
            'apiVersion: shoal.dev/v1alpha1\nkind: Cluster\nmetadata: {name: west}\nspec: {}\n',
          )[0]!,
        },
        { cluster: 'west', kind: 'Workload', namespace: 'shop', name: 'w', spec: west },
      ]),
    );
    const w1 = changes.find((c) => c.cluster === 'west' && c.node === 'w1');
    assert.ok(w1, JSON.stringify(changes.map((c) => `${c.cluster}/${c.node}`)));
    assert.equal(w1.fromVersion, '');
    assert.ok(w1.toVersion);
  });
});
