/**
 * Envoy resources for tests and the benchmark, built without the compiler: one service behind
 * an API listener (what a proxyless gRPC client resolves for xds:///<listener>), a route that
 * splits traffic by weight over one EDS cluster per backend.
 */
import { createHash } from 'node:crypto';
import {
  TypeUrls,
  encodeMessage,
  protoRoot,
  type NodeConfigBundle,
  type XdsResource,
} from '@shoal/proto';

const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/**
 * google.protobuf.Any for encodeMessage. protobufjs' bundled Any keeps the proto field name
 * `type_url` (it is not camel-cased like the .proto files Shoal loads), so @shoal/proto's
 * toAny(), which writes `typeUrl`, yields an Any without a type URL; build it here instead.
 */
function toAny(typeUrl: string, obj: Record<string, unknown>) {
  return { type_url: typeUrl, value: encodeMessage(typeUrl, obj) };
}

export function resource(typeUrl: string, name: string, obj: Record<string, unknown>): XdsResource {
  const value = encodeMessage(typeUrl, obj);
  const version = createHash('sha256').update(value).digest('hex').slice(0, 16);
  return { typeUrl, name, version, value };
}

export function bundle(
  cluster: string,
  node: string,
  version: string,
  resources: readonly XdsResource[],
): NodeConfigBundle {
  return { cluster, node, version, resources };
}

// protobufjs verify() wants enum numbers: ApiVersion.V3 = 2.
const ads = { ads: {}, resourceApiVersion: 2 };

/** protobufjs verify() wants enum numbers, not names. */
function clusterEnum(enumName: 'DiscoveryType' | 'LbPolicy', value: string): number {
  const v = protoRoot().lookupEnum(`envoy.config.cluster.v3.Cluster.${enumName}`).values[value];
  if (v === undefined) throw new Error(`no Cluster.${enumName} ${value}`);
  return v;
}

export interface Backend {
  readonly cluster: string;
  readonly port: number;
  /** Route weight of this backend's cluster. */
  readonly weight: number;
  readonly endpointWeight?: number;
  readonly lbPolicy?: string;
  readonly connectTimeoutMs?: number;
}

export function listener(name: string, route: string, statPrefix = 'shoal'): XdsResource {
  return resource(TypeUrls.listener, name, {
    name,
    apiListener: {
      apiListener: toAny(HCM, {
        statPrefix,
        rds: { configSource: ads, routeConfigName: route },
        httpFilters: [{ name: 'router', typedConfig: toAny(ROUTER, {}) }],
      }),
    },
  });
}

export function route(
  name: string,
  backends: readonly Pick<Backend, 'cluster' | 'weight'>[],
): XdsResource {
  const action =
    backends.length === 1
      ? { cluster: backends[0]!.cluster }
      : {
          weightedClusters: {
            clusters: backends.map((b) => ({ name: b.cluster, weight: { value: b.weight } })),
          },
        };
  return resource(TypeUrls.route, name, {
    name,
    virtualHosts: [
      { name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: action }] },
    ],
  });
}

export function cluster(b: Backend): XdsResource {
  const ms = 1000 + (b.connectTimeoutMs ?? 0);
  return resource(TypeUrls.cluster, b.cluster, {
    name: b.cluster,
    type: clusterEnum('DiscoveryType', 'EDS'),
    edsClusterConfig: { edsConfig: ads, serviceName: b.cluster },
    connectTimeout: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 },
    lbPolicy: clusterEnum('LbPolicy', b.lbPolicy ?? 'ROUND_ROBIN'),
  });
}

export function endpoints(b: Backend): XdsResource {
  return resource(TypeUrls.endpoint, b.cluster, {
    clusterName: b.cluster,
    endpoints: [
      {
        locality: { region: 'r1', zone: 'z1' },
        loadBalancingWeight: { value: 1 },
        lbEndpoints: [
          {
            endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: b.port } } },
            loadBalancingWeight: { value: b.endpointWeight ?? 1 },
          },
        ],
      },
    ],
  });
}

/** Listener → route → one cluster + endpoints per backend. */
export function weightedService(opts: {
  listener: string;
  route?: string;
  backends: readonly Backend[];
  statPrefix?: string;
}): XdsResource[] {
  const routeName = opts.route ?? `${opts.listener}-route`;
  return [
    listener(opts.listener, routeName, opts.statPrefix),
    route(routeName, opts.backends),
    ...opts.backends.flatMap((b) => [cluster(b), endpoints(b)]),
  ];
}

/**
 * Generation k of the benchmark config, the same shape and values as
 * test/interop/xds/fixture/fixture.go: every generation changes all four types.
 */
export function benchResources(k: number): XdsResource[] {
  const wa = (k % 9) + 1;
  return weightedService({
    listener: 'svc',
    route: 'r',
    statPrefix: `v${k}`,
    backends: [
      { cluster: 'c-a', port: 10001, weight: wa, endpointWeight: (k % 7) + 1, connectTimeoutMs: k },
      {
        cluster: 'c-b',
        port: 10002,
        weight: 10 - wa,
        endpointWeight: (k % 7) + 1,
        connectTimeoutMs: k,
      },
    ],
  });
}
