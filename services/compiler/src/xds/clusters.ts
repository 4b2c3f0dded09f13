/** IR clusters → Envoy Cluster (EDS over ADS) and ClusterLoadAssignment resources. */
import { TypeUrls, type XdsResource } from '@shoal/proto';
import type { Endpoint } from '../gatewayapi/context.js';
import type { IRCluster } from '../ir.js';
import { duration, resource } from './encode.js';

type Obj = Record<string, unknown>;

const LB: Record<string, string> = {
  RoundRobin: 'ROUND_ROBIN',
  LeastRequest: 'LEAST_REQUEST',
  Random: 'RANDOM',
  ConsistentHash: 'RING_HASH',
};

export function clusterResource(c: IRCluster): XdsResource {
  const s = c.settings;
  const obj: Obj = {
    name: c.name,
    type: 'EDS',
    edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' }, serviceName: c.eds },
    connectTimeout: duration(s?.connectTimeoutMs ?? 10_000),
    lbPolicy: LB[s?.lb?.type ?? 'RoundRobin'],
  };
  if (s?.circuitBreaker) {
    const cb = s.circuitBreaker;
    const t: Obj = { priority: 'DEFAULT' };
    if (cb.maxConnections !== undefined) t.maxConnections = { value: cb.maxConnections };
    if (cb.maxPendingRequests !== undefined)
      t.maxPendingRequests = { value: cb.maxPendingRequests };
    if (cb.maxParallelRequests !== undefined) t.maxRequests = { value: cb.maxParallelRequests };
    if (cb.maxParallelRetries !== undefined) t.maxRetries = { value: cb.maxParallelRetries };
    obj.circuitBreakers = { thresholds: [t] };
    if (cb.maxRequestsPerConnection !== undefined)
      obj.maxRequestsPerConnection = { value: cb.maxRequestsPerConnection };
  }
  if (s?.idleTimeoutMs !== undefined)
    obj.commonHttpProtocolOptions = { idleTimeout: duration(s.idleTimeoutMs) };
  if (s?.activeHealth) {
    const a = s.activeHealth;
    obj.healthChecks = [
      {
        timeout: duration(a.timeoutMs),
        interval: duration(a.intervalMs),
        unhealthyThreshold: { value: a.unhealthy },
        healthyThreshold: { value: a.healthy },
        ...(a.httpPath
          ? {
              httpHealthCheck: {
                path: a.httpPath,
                ...(a.expected?.length
                  ? { expectedStatuses: a.expected.map((code) => ({ start: code, end: code + 1 })) }
                  : {}),
              },
            }
          : { tcpHealthCheck: {} }),
      },
    ];
  }
  if (s?.passiveHealth) {
    const p = s.passiveHealth;
    obj.outlierDetection = {
      ...(p.consecutive5xx !== undefined ? { consecutive_5xx: { value: p.consecutive5xx } } : {}),
      ...(p.consecutiveGateway !== undefined
        ? { consecutiveGatewayFailure: { value: p.consecutiveGateway } }
        : {}),
      ...(p.intervalMs !== undefined ? { interval: duration(p.intervalMs) } : {}),
      ...(p.baseEjectionMs !== undefined ? { baseEjectionTime: duration(p.baseEjectionMs) } : {}),
      ...(p.maxEjectionPercent !== undefined
        ? { maxEjectionPercent: { value: p.maxEjectionPercent } }
        : {}),
    };
  }
  if (s?.lb?.type === 'ConsistentHash') obj.ringHashLbConfig = { hashFunction: 'XX_HASH' };
  return resource(TypeUrls.cluster, c.name, obj);
}

/** Endpoints grouped by cluster (one locality each, zone = cluster name), all at priority 0. */
export function loadAssignment(
  name: string,
  eps: readonly Endpoint[],
  regions: ReadonlyMap<string, string>,
): XdsResource {
  const byCluster = new Map<string, Endpoint[]>();
  const seen = new Set<string>();
  for (const e of eps) {
    const k = `${e.ip}:${e.port}`;
    if (seen.has(k)) continue; // grpc-js-xds rejects duplicate addresses
    seen.add(k);
    byCluster.set(e.cluster, [...(byCluster.get(e.cluster) ?? []), e]);
  }
  const endpoints = [...byCluster.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([cluster, list]) => ({
      locality: { region: regions.get(cluster) ?? '', zone: cluster },
      loadBalancingWeight: { value: list.length },
      lbEndpoints: list
        .sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1))
        .map((e) => ({
          endpoint: { address: { socketAddress: { address: e.ip, portValue: e.port } } },
          healthStatus: 'HEALTHY',
        })),
    }));
  return resource(TypeUrls.endpoint, name, { clusterName: name, endpoints });
}
