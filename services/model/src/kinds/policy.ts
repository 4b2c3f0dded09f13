/** Envoy Gateway policies (gateway.envoyproxy.io/v1alpha1) and Istio security resources. */
import { any, arr, bool, check, int, map, obj, oneOfStr, req, str } from '../schema.js';
import { duration, policyTargetRef, requireTarget } from './common.js';

const targets = {
  targetRef: policyTargetRef,
  targetRefs: arr(policyTargetRef, { max: 16 }),
  targetSelectors: any,
};

export const backendTrafficPolicySpec = obj(
  {
    ...targets,
    retry: obj({
      numRetries: int(0),
      numAttemptsPerPriority: int(0),
      retryOn: obj({
        triggers: arr(
          oneOfStr(
            '5xx',
            'gateway-error',
            'reset',
            'connect-failure',
            'retriable-4xx',
            'refused-stream',
            'retriable-status-codes',
            'cancelled',
            'deadline-exceeded',
            'internal',
            'resource-exhausted',
            'unavailable',
          ),
        ),
        httpStatusCodes: arr(int(100, 599)),
      }),
      perRetry: obj({
        timeout: duration,
        backOff: obj({ baseInterval: duration, maxInterval: duration }),
      }),
    }),
    timeout: obj({
      tcp: obj({ connectTimeout: duration }),
      http: obj({
        requestTimeout: duration,
        connectionIdleTimeout: duration,
        maxConnectionDuration: duration,
      }),
    }),
    circuitBreaker: obj({
      maxConnections: int(0),
      maxPendingRequests: int(0),
      maxParallelRequests: int(0),
      maxParallelRetries: int(0),
      maxRequestsPerConnection: int(0),
      perEndpoint: any,
    }),
    loadBalancer: obj(
      {
        type: req(oneOfStr('RoundRobin', 'LeastRequest', 'Random', 'ConsistentHash')),
        consistentHash: obj({
          type: req(oneOfStr('SourceIP', 'Header', 'Cookie')),
          header: obj({ name: req(str()) }),
          cookie: any,
          tableSize: int(1),
        }),
        slowStart: any,
        zoneAware: any,
      },
      {
        check: check<{ type: string; consistentHash?: { type: string; header?: unknown } }>(
          (v, p, r) => {
            if (v.type === 'ConsistentHash' && !v.consistentHash)
              r([...p, 'consistentHash'], 'is required when type is ConsistentHash');
            if (v.consistentHash?.type === 'Header' && !v.consistentHash.header)
              r(
                [...p, 'consistentHash', 'header'],
                'is required when consistentHash.type is Header',
              );
          },
        ),
      },
    ),
    rateLimit: obj(
      {
        type: req(oneOfStr('Local', 'Global')),
        local: obj({
          rules: arr(
            obj({
              clientSelectors: any,
              limit: req(
                obj({
                  requests: req(int(1)),
                  unit: req(oneOfStr('Second', 'Minute', 'Hour', 'Day')),
                }),
              ),
            }),
            { min: 1 },
          ),
        }),
        global: any,
      },
      {
        check: check<{ type: string; local?: unknown }>((v, p, r) => {
          if (v.type === 'Global')
            r(
              [...p, 'type'],
              'Global rate limiting needs an external rate limit service, which Shoal does not run; use Local',
            );
          if (v.type === 'Local' && !v.local) r([...p, 'local'], 'is required when type is Local');
        }),
      },
    ),
    healthCheck: obj({
      active: obj(
        {
          type: req(oneOfStr('HTTP', 'TCP')),
          timeout: duration,
          interval: duration,
          unhealthyThreshold: int(1),
          healthyThreshold: int(1),
          http: obj({
            path: req(str({ format: 'path' })),
            method: str(),
            expectedStatuses: arr(int(100, 599)),
          }),
          tcp: any,
        },
        {
          check: check<{ type: string; http?: unknown }>((v, p, r) => {
            if (v.type === 'HTTP' && !v.http) r([...p, 'http'], 'is required when type is HTTP');
          }),
        },
      ),
      passive: obj({
        consecutive5XxErrors: int(0),
        consecutiveGatewayErrors: int(0),
        consecutiveLocalOriginFailures: int(0),
        splitExternalLocalOriginErrors: bool,
        interval: duration,
        baseEjectionTime: duration,
        maxEjectionPercent: int(0, 100),
      }),
    }),
    faultInjection: any,
    tcpKeepalive: any,
    proxyProtocol: any,
    useClientProtocol: bool,
    compression: any,
    responseOverride: any,
    mergeType: any,
  },
  { check: requireTarget },
);

export const clientTrafficPolicySpec = obj(
  {
    ...targets,
    timeout: obj({
      http: obj({ requestReceivedTimeout: duration, idleTimeout: duration }),
      tcp: obj({ idleTimeout: duration }),
    }),
    clientIPDetection: obj({ xForwardedFor: obj({ numTrustedHops: int(0) }), customHeader: any }),
    headers: obj(
      { withUnderscoresAction: oneOfStr('Allow', 'RejectRequest', 'DropHeader') },
      { open: true },
    ),
    connection: obj({ bufferLimit: any, connectionLimit: any }),
    tcpKeepalive: any,
    http1: any,
    http2: any,
    http3: any,
    tls: any,
    path: any,
    enableProxyProtocol: bool,
    healthCheck: any,
  },
  { check: requireTarget },
);

const jwtProvider = obj({
  name: req(str()),
  issuer: str(),
  audiences: arr(str()),
  remoteJWKS: obj(
    {
      uri: req(
        str({
          check: check<string>((v, p, r) => {
            if (!/^https?:\/\/[^/]+/.test(v)) r(p, `"${v}" must be an http(s) URL`);
          }),
        }),
      ),
    },
    { open: true },
  ),
  localJWKS: obj({
    type: str({
      check: check<string>((v, p, r) => {
        if (v !== 'Inline') r(p, `"${v}": only Inline is supported`);
      }),
    }),
    inline: req(
      str({
        check: check<string>((v, p, r) => {
          try {
            const keys = (JSON.parse(v) as { keys?: unknown }).keys;
            if (!Array.isArray(keys)) r(p, 'must be a JWKS document: {"keys": [...]}');
          } catch {
            r(p, 'must be a JSON Web Key Set (JSON)');
          }
        }),
      }),
    ),
  }),
  claimToHeaders: arr(obj({ header: req(str()), claim: req(str()) })),
  extractFrom: any,
  recomputeRoute: bool,
});

export const securityPolicySpec = obj(
  {
    ...targets,
    cors: obj({
      allowOrigins: arr(str()),
      allowMethods: arr(str()),
      allowHeaders: arr(str()),
      exposeHeaders: arr(str()),
      maxAge: duration,
      allowCredentials: bool,
    }),
    basicAuth: obj({
      users: req(obj({ group: str(), kind: str(), name: req(str()), namespace: str() })),
      forwardUsernameHeader: str(),
    }),
    jwt: obj({
      optional: bool,
      providers: req(
        arr(jwtProvider, {
          min: 1,
          check: check<{ name: string }[]>((v, p, r) => {
            const seen = new Set<string>();
            v.forEach((x, i) => {
              if (seen.has(x.name)) r([...p, i, 'name'], `duplicate provider name "${x.name}"`);
              seen.add(x.name);
            });
          }),
        }),
      ),
    }),
    authorization: obj({
      defaultAction: oneOfStr('Allow', 'Deny'),
      rules: arr(
        obj({
          name: str(),
          action: req(oneOfStr('Allow', 'Deny')),
          operation: any,
          principal: req(
            obj(
              {
                clientCIDRs: arr(str({ format: 'cidr' })),
                jwt: obj({
                  provider: req(str()),
                  scopes: arr(str()),
                  claims: arr(
                    obj({
                      name: req(str()),
                      valueType: oneOfStr('String', 'StringArray'),
                      values: req(arr(str(), { min: 1 })),
                    }),
                  ),
                }),
                headers: any,
              },
              {
                check: check<{ clientCIDRs?: unknown[]; jwt?: unknown; headers?: unknown }>(
                  (v, p, r) => {
                    if (!v.clientCIDRs?.length && !v.jwt && !v.headers)
                      r(p, 'set clientCIDRs, jwt or both');
                  },
                ),
              },
            ),
          ),
        }),
      ),
    }),
    extAuth: any,
    oidc: any,
    apiKeyAuth: any,
  },
  {
    check: check<{
      jwt?: { providers?: { name: string }[] };
      authorization?: { rules?: { principal?: { jwt?: { provider: string } } }[] };
    }>((v, p, r) => {
      const names = new Set((v.jwt?.providers ?? []).map((x) => x.name));
      (v.authorization?.rules ?? []).forEach((rule, i) => {
        const prov = rule.principal?.jwt?.provider;
        if (prov !== undefined && !names.has(prov))
          r(
            [...p, 'authorization', 'rules', i, 'principal', 'jwt', 'provider'],
            `"${prov}" is not a provider listed in jwt.providers`,
          );
      });
    }),
  },
);

const selector = obj({ matchLabels: map(str()) });
const istioTarget = obj({ group: str(), kind: req(str()), name: req(str()), namespace: str() });

const portString = str({
  check: check<string>((v, p, r) => {
    if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) r(p, `"${v}" is not a port number`);
  }),
});

export const authorizationPolicySpec = obj(
  {
    selector,
    targetRef: istioTarget,
    targetRefs: arr(istioTarget),
    action: oneOfStr('ALLOW', 'DENY', 'AUDIT', 'CUSTOM'),
    provider: any,
    rules: arr(
      obj({
        from: arr(
          obj({
            source: obj({
              principals: arr(str()),
              notPrincipals: arr(str()),
              requestPrincipals: arr(str()),
              notRequestPrincipals: arr(str()),
              namespaces: arr(str()),
              notNamespaces: arr(str()),
              ipBlocks: arr(str({ format: 'cidr' })),
              notIpBlocks: arr(str({ format: 'cidr' })),
              remoteIpBlocks: arr(str({ format: 'cidr' })),
              notRemoteIpBlocks: arr(str({ format: 'cidr' })),
            }),
          }),
        ),
        to: arr(
          obj({
            operation: obj({
              hosts: arr(str()),
              notHosts: arr(str()),
              ports: arr(portString),
              notPorts: arr(portString),
              methods: arr(str()),
              notMethods: arr(str()),
              paths: arr(str()),
              notPaths: arr(str()),
            }),
          }),
        ),
        when: arr(obj({ key: req(str()), values: arr(str()), notValues: arr(str()) })),
      }),
    ),
  },
  {
    check: check<{
      action?: string;
      selector?: unknown;
      targetRef?: unknown;
      targetRefs?: unknown[];
    }>((v, p, r) => {
      if (v.action === 'AUDIT' || v.action === 'CUSTOM')
        r([...p, 'action'], `${v.action} is not supported by Shoal; use ALLOW or DENY`);
      if (v.selector && (v.targetRef || v.targetRefs?.length))
        r(p, 'set either selector or targetRef(s), not both');
    }),
  },
);

const mtlsMode = oneOfStr('UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT');
export const peerAuthenticationSpec = obj({
  selector,
  mtls: obj({ mode: mtlsMode }),
  portLevelMtls: map(obj({ mode: mtlsMode })),
});
