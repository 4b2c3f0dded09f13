/**
 * The registry of kinds: which apiVersions each kind is accepted under, whether it is
 * namespaced, and the schema of its spec.
 */
import type { Kind } from '../types.js';
import {
  arr,
  bool,
  check,
  int,
  intOrString,
  map,
  num,
  obj,
  oneOfStr,
  req,
  str,
  type Schema,
} from '../schema.js';
import { duration, exactlyOne, labelSelector, port } from './common.js';
import {
  gatewayClassSpec,
  gatewaySpec,
  grpcRouteSpec,
  httpRouteSpec,
  referenceGrantSpec,
  tcpRouteSpec,
  tlsRouteSpec,
} from './gateway.js';
import {
  authorizationPolicySpec,
  backendTrafficPolicySpec,
  clientTrafficPolicySpec,
  peerAuthenticationSpec,
  securityPolicySpec,
} from './policy.js';

export interface KindInfo {
  readonly kind: Kind;
  readonly apiVersions: readonly string[];
  readonly namespaced: boolean;
  /** Kubernetes name rule for metadata.name. */
  readonly nameFormat: 'dnsLabel' | 'hostname';
  /** Schema of `spec` (or of the whole top level for kinds without spec, like Secret). */
  readonly spec: Schema;
  /** Kinds without `spec` (Secret) validate these top-level fields instead. */
  readonly topLevel?: boolean;
}

const GW = 'gateway.networking.k8s.io';
const EG = 'gateway.envoyproxy.io/v1alpha1';
const ISTIO_SEC = ['security.istio.io/v1', 'security.istio.io/v1beta1'];
const SHOAL = 'shoal.dev/v1alpha1';

const serviceSpec = obj(
  {
    selector: map(str()),
    ports: arr(
      obj({
        name: str({ format: 'dnsLabel' }),
        port: req(port),
        targetPort: intOrString,
        protocol: oneOfStr('TCP', 'UDP', 'SCTP'),
        appProtocol: str(),
        nodePort: int(),
      }),
      {
        check: check<{ name?: string; port: number }[]>((v, p, r) => {
          if (v.length > 1 && v.some((x) => !x.name))
            r(p, 'every port needs a name when a Service has more than one');
          const seen = new Set<number>();
          v.forEach((x, i) => {
            if (seen.has(x.port)) r([...p, i, 'port'], `port ${x.port} is listed twice`);
            seen.add(x.port);
          });
        }),
      },
    ),
    clusterIP: str(),
    clusterIPs: arr(str()),
  },
  { open: true },
);

const workloadSpec = obj(
  {
    address: str({ format: 'ip' }),
    addresses: arr(str({ format: 'ip' }), { min: 1 }),
    node: req(str({ format: 'hostname' })),
    serviceAccount: str({ format: 'hostname' }),
    network: str(),
    ports: map(port),
    ready: bool,
  },
  { check: exactlyOne(['address', 'addresses'], 'the workload IP') },
);

const clusterSpec = obj({
  region: str(),
  zone: str(),
  network: str(),
  trustDomain: str({ format: 'hostname' }),
  domain: str({ format: 'hostname' }),
});

const selection = {
  clusters: arr(str(), { min: 1 }),
  selector: labelSelector,
};
const approval = oneOfStr('Auto', 'Manual');

const rolloutPolicySpec = obj({
  targets: obj(selection),
  canary: obj(
    { ...selection, bakeTime: duration, approval },
    { check: exactlyOne(['clusters', 'selector'], 'the canary') },
  ),
  waves: arr(
    obj(
      {
        name: str(),
        percentage: int(1, 100),
        selector: labelSelector,
        maxConcurrent: int(1),
        bakeTime: duration,
        approval,
      },
      { check: exactlyOne(['percentage', 'selector'], 'a wave') },
    ),
  ),
  maxConcurrent: int(1),
  bakeTime: duration,
  health: obj({ maxErrorRate: num(0, 1), maxP99LatencyRatio: num(1), window: duration }),
  convergenceDeadline: duration,
  offlineEdge: obj(
    { action: req(oneOfStr('Wait', 'Skip', 'Fail')), deadline: duration },
    {
      check: check<{ action: string; deadline?: string }>((v, p, r) => {
        if (v.action === 'Wait' && !v.deadline)
          r(
            [...p, 'deadline'],
            'is required when action is Wait (how long to wait for an offline site)',
          );
      }),
    },
  ),
});

const secretTop = obj({
  type: str(),
  data: map(
    str({
      check: check<string>((v, p, r) => {
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v.replace(/\s/g, ''))) r(p, 'is not base64');
      }),
    }),
  ),
  stringData: map(str()),
  immutable: bool,
});

const K = (
  kind: Kind,
  apiVersions: string[],
  namespaced: boolean,
  spec: Schema,
  extra: Partial<KindInfo> = {},
): KindInfo => ({
  kind,
  apiVersions,
  namespaced,
  nameFormat: 'hostname',
  spec,
  ...extra,
});

export const KINDS: ReadonlyMap<string, KindInfo> = new Map(
  [
    K('Namespace', ['v1'], false, obj({}, { open: true }), { nameFormat: 'dnsLabel' }),
    K('Service', ['v1'], true, serviceSpec, { nameFormat: 'dnsLabel' }),
    K('Secret', ['v1'], true, secretTop, { topLevel: true }),
    K('Workload', [SHOAL], true, workloadSpec),
    K('GatewayClass', [`${GW}/v1`, `${GW}/v1beta1`], false, gatewayClassSpec),
    K('Gateway', [`${GW}/v1`, `${GW}/v1beta1`], true, gatewaySpec),
    K('HTTPRoute', [`${GW}/v1`, `${GW}/v1beta1`], true, httpRouteSpec),
    K('GRPCRoute', [`${GW}/v1`, `${GW}/v1alpha2`], true, grpcRouteSpec),
    K('TCPRoute', [`${GW}/v1alpha2`], true, tcpRouteSpec),
    K('TLSRoute', [`${GW}/v1alpha2`, `${GW}/v1alpha3`], true, tlsRouteSpec),
    K('ReferenceGrant', [`${GW}/v1beta1`, `${GW}/v1`], true, referenceGrantSpec),
    K('BackendTrafficPolicy', [EG], true, backendTrafficPolicySpec),
    K('ClientTrafficPolicy', [EG], true, clientTrafficPolicySpec),
    K('SecurityPolicy', [EG], true, securityPolicySpec),
    K('AuthorizationPolicy', ISTIO_SEC, true, authorizationPolicySpec),
    K('PeerAuthentication', ISTIO_SEC, true, peerAuthenticationSpec),
    K('Cluster', [SHOAL], false, clusterSpec, { nameFormat: 'dnsLabel' }),
    K(
      'EdgeSite',
      [SHOAL],
      false,
      obj({ ...(clusterSpec.t === 'object' ? clusterSpec.fields : {}), hub: str() }),
      { nameFormat: 'dnsLabel' },
    ),
    K('RolloutPolicy', [SHOAL], false, rolloutPolicySpec),
  ].map((k) => [k.kind, k]),
);

/** Kinds whose spec may be omitted entirely. */
export const SPEC_OPTIONAL: ReadonlySet<string> = new Set([
  'Namespace',
  'Secret',
  'PeerAuthentication',
  'AuthorizationPolicy',
  'Cluster',
  'EdgeSite',
]);
