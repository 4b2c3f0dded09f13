/**
 * Resource types of the mesh model: Kubernetes-style objects (apiVersion, kind, metadata, spec)
 * so that manifests copied from a cluster or from upstream docs are used as they are. Only the
 * fields Shoal reads are typed; validation (kinds.ts) accepts the rest of the upstream schema.
 */

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** RFC 3339; orders conflicting routes (oldest wins) as Gateway API specifies. */
  readonly creationTimestamp?: string;
}

interface Obj<K extends string, S> {
  readonly apiVersion: string;
  readonly kind: K;
  readonly metadata: ObjectMeta;
  readonly spec: S;
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly {
    readonly key: string;
    readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    readonly values?: readonly string[];
  }[];
}

// ---- core ----

export type Namespace = Obj<'Namespace', Record<string, unknown>>;

export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  readonly targetPort?: number | string;
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
  readonly appProtocol?: string;
}
export type Service = Obj<
  'Service',
  {
    readonly selector?: Readonly<Record<string, string>>;
    readonly ports?: readonly ServicePort[];
    readonly clusterIP?: string;
    readonly clusterIPs?: readonly string[];
  }
>;

/** kubernetes.io/tls Secrets (TLS termination) and Opaque ones (basic auth .htpasswd). */
export interface Secret {
  readonly apiVersion: string;
  readonly kind: 'Secret';
  readonly metadata: ObjectMeta;
  readonly type?: string;
  /** base64 values, as Kubernetes stores them. */
  readonly data?: Readonly<Record<string, string>>;
  readonly stringData?: Readonly<Record<string, string>>;
}

/** One endpoint instance (a pod, VM or process) on a node: Shoal's EndpointSlice-like unit. */
export type Workload = Obj<
  'Workload',
  {
    readonly address?: string;
    readonly addresses?: readonly string[];
    readonly node: string;
    readonly serviceAccount?: string;
    readonly network?: string;
    /** Named container ports, for Service targetPorts given by name. */
    readonly ports?: Readonly<Record<string, number>>;
    readonly ready?: boolean;
  }
>;

// ---- Gateway API ----

export type GatewayClass = Obj<
  'GatewayClass',
  { readonly controllerName: string; readonly description?: string }
>;

export interface SecretObjectReference {
  readonly group?: string;
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
}

export interface GatewayListener {
  readonly name: string;
  readonly hostname?: string;
  readonly port: number;
  readonly protocol: string;
  readonly tls?: {
    readonly mode?: 'Terminate' | 'Passthrough';
    readonly certificateRefs?: readonly SecretObjectReference[];
  };
  readonly allowedRoutes?: {
    readonly namespaces?: {
      readonly from?: 'All' | 'Same' | 'Selector';
      readonly selector?: LabelSelector;
    };
    readonly kinds?: readonly { readonly group?: string; readonly kind: string }[];
  };
}
export type Gateway = Obj<
  'Gateway',
  {
    readonly gatewayClassName: string;
    readonly listeners: readonly GatewayListener[];
    readonly addresses?: readonly { readonly type?: string; readonly value: string }[];
  }
>;

export interface ParentReference {
  readonly group?: string;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name: string;
  readonly sectionName?: string;
  readonly port?: number;
}

export interface BackendRef {
  readonly group?: string;
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
  readonly port?: number;
  readonly weight?: number;
}

export interface HeaderMatch {
  readonly type?: 'Exact' | 'RegularExpression';
  readonly name: string;
  readonly value: string;
}
export interface HTTPRouteMatch {
  readonly path?: {
    readonly type?: 'Exact' | 'PathPrefix' | 'RegularExpression';
    readonly value?: string;
  };
  readonly headers?: readonly HeaderMatch[];
  readonly queryParams?: readonly HeaderMatch[];
  readonly method?: string;
}
export interface HeaderModifier {
  readonly set?: readonly { readonly name: string; readonly value: string }[];
  readonly add?: readonly { readonly name: string; readonly value: string }[];
  readonly remove?: readonly string[];
}
export interface PathModifier {
  readonly type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  readonly replaceFullPath?: string;
  readonly replacePrefixMatch?: string;
}
export interface HTTPRouteFilter {
  readonly type:
    | 'RequestHeaderModifier'
    | 'ResponseHeaderModifier'
    | 'RequestRedirect'
    | 'URLRewrite'
    | 'RequestMirror'
    | 'ExtensionRef'
    | 'CORS';
  readonly requestHeaderModifier?: HeaderModifier;
  readonly responseHeaderModifier?: HeaderModifier;
  readonly requestRedirect?: {
    readonly scheme?: 'http' | 'https';
    readonly hostname?: string;
    readonly path?: PathModifier;
    readonly port?: number;
    readonly statusCode?: number;
  };
  readonly urlRewrite?: { readonly hostname?: string; readonly path?: PathModifier };
  readonly requestMirror?: {
    readonly backendRef: BackendRef;
    readonly percent?: number;
    readonly fraction?: { readonly numerator: number; readonly denominator?: number };
  };
}
export interface HTTPRouteRule {
  readonly name?: string;
  readonly matches?: readonly HTTPRouteMatch[];
  readonly filters?: readonly HTTPRouteFilter[];
  readonly backendRefs?: readonly (BackendRef & {
    readonly filters?: readonly HTTPRouteFilter[];
  })[];
  readonly timeouts?: { readonly request?: string; readonly backendRequest?: string };
}
export type HTTPRoute = Obj<
  'HTTPRoute',
  {
    readonly parentRefs?: readonly ParentReference[];
    readonly hostnames?: readonly string[];
    readonly rules?: readonly HTTPRouteRule[];
  }
>;

export interface GRPCRouteMatch {
  readonly method?: {
    readonly type?: 'Exact' | 'RegularExpression';
    readonly service?: string;
    readonly method?: string;
  };
  readonly headers?: readonly HeaderMatch[];
}
export type GRPCRoute = Obj<
  'GRPCRoute',
  {
    readonly parentRefs?: readonly ParentReference[];
    readonly hostnames?: readonly string[];
    readonly rules?: readonly {
      readonly name?: string;
      readonly matches?: readonly GRPCRouteMatch[];
      readonly filters?: readonly HTTPRouteFilter[];
      readonly backendRefs?: readonly BackendRef[];
    }[];
  }
>;

export type TCPRoute = Obj<
  'TCPRoute',
  {
    readonly parentRefs?: readonly ParentReference[];
    readonly rules: readonly {
      readonly name?: string;
      readonly backendRefs?: readonly BackendRef[];
    }[];
  }
>;
export type TLSRoute = Obj<
  'TLSRoute',
  {
    readonly parentRefs?: readonly ParentReference[];
    readonly hostnames?: readonly string[];
    readonly rules: readonly {
      readonly name?: string;
      readonly backendRefs?: readonly BackendRef[];
    }[];
  }
>;

export type ReferenceGrant = Obj<
  'ReferenceGrant',
  {
    readonly from: readonly {
      readonly group: string;
      readonly kind: string;
      readonly namespace: string;
    }[];
    readonly to: readonly {
      readonly group: string;
      readonly kind: string;
      readonly name?: string;
    }[];
  }
>;

// ---- Envoy Gateway policies ----

export interface PolicyTargetRef {
  readonly group?: string;
  readonly kind: string;
  readonly name: string;
  readonly sectionName?: string;
}

export type BackendTrafficPolicy = Obj<
  'BackendTrafficPolicy',
  {
    readonly targetRef?: PolicyTargetRef;
    readonly targetRefs?: readonly PolicyTargetRef[];
    readonly retry?: {
      readonly numRetries?: number;
      readonly retryOn?: {
        readonly triggers?: readonly string[];
        readonly httpStatusCodes?: readonly number[];
      };
      readonly perRetry?: {
        readonly timeout?: string;
        readonly backOff?: { readonly baseInterval?: string; readonly maxInterval?: string };
      };
    };
    readonly timeout?: {
      readonly tcp?: { readonly connectTimeout?: string };
      readonly http?: { readonly requestTimeout?: string; readonly connectionIdleTimeout?: string };
    };
    readonly circuitBreaker?: {
      readonly maxConnections?: number;
      readonly maxPendingRequests?: number;
      readonly maxParallelRequests?: number;
      readonly maxParallelRetries?: number;
      readonly maxRequestsPerConnection?: number;
    };
    readonly loadBalancer?: {
      readonly type: 'RoundRobin' | 'LeastRequest' | 'Random' | 'ConsistentHash';
      readonly consistentHash?: {
        readonly type: 'SourceIP' | 'Header' | 'Cookie';
        readonly header?: { readonly name: string };
      };
    };
    readonly rateLimit?: {
      readonly type: 'Local' | 'Global';
      readonly local?: {
        readonly rules?: readonly {
          readonly limit: {
            readonly requests: number;
            readonly unit: 'Second' | 'Minute' | 'Hour' | 'Day';
          };
        }[];
      };
    };
    readonly healthCheck?: {
      readonly active?: {
        readonly type: 'HTTP' | 'TCP';
        readonly timeout?: string;
        readonly interval?: string;
        readonly unhealthyThreshold?: number;
        readonly healthyThreshold?: number;
        readonly http?: {
          readonly path: string;
          readonly method?: string;
          readonly expectedStatuses?: readonly number[];
        };
      };
      readonly passive?: {
        readonly consecutive5XxErrors?: number;
        readonly consecutiveGatewayErrors?: number;
        readonly interval?: string;
        readonly baseEjectionTime?: string;
        readonly maxEjectionPercent?: number;
      };
    };
  }
>;

export type ClientTrafficPolicy = Obj<
  'ClientTrafficPolicy',
  {
    readonly targetRef?: PolicyTargetRef;
    readonly targetRefs?: readonly PolicyTargetRef[];
    readonly timeout?: {
      readonly http?: { readonly requestReceivedTimeout?: string; readonly idleTimeout?: string };
    };
    readonly clientIPDetection?: { readonly xForwardedFor?: { readonly numTrustedHops?: number } };
    readonly headers?: {
      readonly withUnderscoresAction?: 'Allow' | 'RejectRequest' | 'DropHeader';
    };
    readonly connection?: { readonly bufferLimit?: string | number };
  }
>;

export interface JwtProvider {
  readonly name: string;
  readonly issuer?: string;
  readonly audiences?: readonly string[];
  readonly remoteJWKS?: { readonly uri: string };
  /** A JWKS given inline (Envoy Gateway's `localJWKS` with `type: Inline`), for offline sites. */
  readonly localJWKS?: { readonly type?: 'Inline'; readonly inline: string };
  readonly claimToHeaders?: readonly { readonly header: string; readonly claim: string }[];
}
export type SecurityPolicy = Obj<
  'SecurityPolicy',
  {
    readonly targetRef?: PolicyTargetRef;
    readonly targetRefs?: readonly PolicyTargetRef[];
    readonly cors?: {
      readonly allowOrigins?: readonly string[];
      readonly allowMethods?: readonly string[];
      readonly allowHeaders?: readonly string[];
      readonly exposeHeaders?: readonly string[];
      readonly maxAge?: string;
      readonly allowCredentials?: boolean;
    };
    readonly basicAuth?: { readonly users: { readonly name: string; readonly namespace?: string } };
    readonly jwt?: { readonly providers: readonly JwtProvider[]; readonly optional?: boolean };
    readonly authorization?: {
      readonly defaultAction?: 'Allow' | 'Deny';
      readonly rules?: readonly {
        readonly name?: string;
        readonly action: 'Allow' | 'Deny';
        readonly principal: {
          readonly clientCIDRs?: readonly string[];
          readonly jwt?: {
            readonly provider: string;
            readonly scopes?: readonly string[];
            readonly claims?: readonly {
              readonly name: string;
              readonly values: readonly string[];
            }[];
          };
        };
      }[];
    };
  }
>;

// ---- Istio security ----

export interface WorkloadSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
}
export interface AuthorizationRule {
  readonly from?: readonly {
    readonly source?: {
      readonly principals?: readonly string[];
      readonly notPrincipals?: readonly string[];
      readonly requestPrincipals?: readonly string[];
      readonly notRequestPrincipals?: readonly string[];
      readonly namespaces?: readonly string[];
      readonly notNamespaces?: readonly string[];
      readonly ipBlocks?: readonly string[];
      readonly notIpBlocks?: readonly string[];
      readonly remoteIpBlocks?: readonly string[];
      readonly notRemoteIpBlocks?: readonly string[];
    };
  }[];
  readonly to?: readonly {
    readonly operation?: {
      readonly hosts?: readonly string[];
      readonly notHosts?: readonly string[];
      readonly ports?: readonly string[];
      readonly notPorts?: readonly string[];
      readonly methods?: readonly string[];
      readonly notMethods?: readonly string[];
      readonly paths?: readonly string[];
      readonly notPaths?: readonly string[];
    };
  }[];
  readonly when?: readonly {
    readonly key: string;
    readonly values?: readonly string[];
    readonly notValues?: readonly string[];
  }[];
}
export type AuthorizationPolicy = Obj<
  'AuthorizationPolicy',
  {
    readonly selector?: WorkloadSelector;
    readonly targetRef?: PolicyTargetRef & { readonly namespace?: string };
    readonly targetRefs?: readonly (PolicyTargetRef & { readonly namespace?: string })[];
    readonly action?: 'ALLOW' | 'DENY';
    readonly rules?: readonly AuthorizationRule[];
  }
>;

export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';
export type PeerAuthentication = Obj<
  'PeerAuthentication',
  {
    readonly selector?: WorkloadSelector;
    readonly mtls?: { readonly mode?: MtlsMode };
    readonly portLevelMtls?: Readonly<Record<string, { readonly mode?: MtlsMode }>>;
  }
>;

// ---- Shoal ----

/** A member cluster of the fleet (the name is metadata.name; labels select it in rollouts). */
export type Cluster = Obj<
  'Cluster',
  {
    readonly region?: string;
    readonly zone?: string;
    readonly network?: string;
    readonly trustDomain?: string;
    /** Kubernetes cluster domain used in service hostnames (default cluster.local). */
    readonly domain?: string;
  }
>;

/** A small, possibly disconnected site that runs like a cluster (own nodes, own config). */
export type EdgeSite = Obj<
  'EdgeSite',
  {
    readonly region?: string;
    readonly zone?: string;
    readonly network?: string;
    readonly trustDomain?: string;
    readonly domain?: string;
    /** The cluster the site normally reaches the control plane through. */
    readonly hub?: string;
  }
>;

export interface ClusterSelection {
  /** Explicit cluster or edge-site names. */
  readonly clusters?: readonly string[];
  readonly selector?: LabelSelector;
}
export interface RolloutWave {
  readonly name?: string;
  /** Percentage (1-100) of the remaining targets, or a label selector (exactly one). */
  readonly percentage?: number;
  readonly selector?: LabelSelector;
  readonly maxConcurrent?: number;
  readonly bakeTime?: string;
  readonly approval?: 'Auto' | 'Manual';
}
export type RolloutPolicy = Obj<
  'RolloutPolicy',
  {
    /** Which clusters/sites the policy governs (all when absent). */
    readonly targets?: ClusterSelection;
    readonly canary?: ClusterSelection & {
      readonly bakeTime?: string;
      readonly approval?: 'Auto' | 'Manual';
    };
    readonly waves?: readonly RolloutWave[];
    readonly maxConcurrent?: number;
    /** Default bake time of a wave (Go-style duration: "30s", "5m", "1h30m"). */
    readonly bakeTime?: string;
    readonly health?: {
      /** Fraction 0..1 of failed requests that fails the gate. */
      readonly maxErrorRate?: number;
      /** p99 latency after / before the change that fails the gate (>= 1). */
      readonly maxP99LatencyRatio?: number;
      readonly window?: string;
    };
    /** Time for every node of a wave to ACK before the wave fails. */
    readonly convergenceDeadline?: string;
    readonly offlineEdge?: {
      readonly action: 'Wait' | 'Skip' | 'Fail';
      readonly deadline?: string;
    };
  }
>;

export type MeshResource =
  | Namespace
  | Service
  | Secret
  | Workload
  | GatewayClass
  | Gateway
  | HTTPRoute
  | GRPCRoute
  | TCPRoute
  | TLSRoute
  | ReferenceGrant
  | BackendTrafficPolicy
  | ClientTrafficPolicy
  | SecurityPolicy
  | AuthorizationPolicy
  | PeerAuthentication
  | Cluster
  | EdgeSite
  | RolloutPolicy;

export type Kind = MeshResource['kind'];
export type ResourceOf<K extends Kind> = Extract<MeshResource, { kind: K }>;

/** A validated resource as it sits in the desired state: tagged with the cluster it belongs to. */
export interface PlacedResource<R extends MeshResource = MeshResource> {
  readonly cluster: string;
  readonly resource: R;
}
