/** A Kubernetes resource type the agent lists and watches. */
export interface KubeKind {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

const k = (
  group: string,
  version: string,
  plural: string,
  kind: string,
  namespaced = true,
): KubeKind => ({ group, version, plural, kind, namespaced });

/** What a mesh control plane needs to know from a cluster (DESIGN.md §4). */
export const DEFAULT_KUBE_KINDS: readonly KubeKind[] = [
  k('', 'v1', 'namespaces', 'Namespace', false),
  k('', 'v1', 'services', 'Service'),
  k('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice'),
  k('gateway.networking.k8s.io', 'v1', 'gatewayclasses', 'GatewayClass', false),
  k('gateway.networking.k8s.io', 'v1', 'gateways', 'Gateway'),
  k('gateway.networking.k8s.io', 'v1', 'httproutes', 'HTTPRoute'),
  k('gateway.networking.k8s.io', 'v1', 'grpcroutes', 'GRPCRoute'),
  k('gateway.networking.k8s.io', 'v1beta1', 'referencegrants', 'ReferenceGrant'),
  k('gateway.networking.k8s.io', 'v1alpha2', 'tcproutes', 'TCPRoute'),
  k('gateway.networking.k8s.io', 'v1alpha2', 'tlsroutes', 'TLSRoute'),
  k('gateway.envoyproxy.io', 'v1alpha1', 'backendtrafficpolicies', 'BackendTrafficPolicy'),
  k('gateway.envoyproxy.io', 'v1alpha1', 'clienttrafficpolicies', 'ClientTrafficPolicy'),
  k('gateway.envoyproxy.io', 'v1alpha1', 'securitypolicies', 'SecurityPolicy'),
  k('security.istio.io', 'v1', 'authorizationpolicies', 'AuthorizationPolicy'),
  k('security.istio.io', 'v1', 'peerauthentications', 'PeerAuthentication'),
];

/** Collection path across all namespaces, e.g. `/apis/gateway.networking.k8s.io/v1/httproutes`. */
export function collectionPath(kind: KubeKind): string {
  return kind.group === ''
    ? `/api/${kind.version}/${kind.plural}`
    : `/apis/${kind.group}/${kind.version}/${kind.plural}`;
}
