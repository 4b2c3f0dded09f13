import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManifestInvalidError, parseManifests, parseManifestsOrThrow } from './index.js';

/** Parse one document and return "path: reason" of each issue. */
function problems(yaml: string): string[] {
  return parseManifests(yaml, 'test.yaml').issues.map((i) => `${i.path}: ${i.reason}`);
}

const route = (rules: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
${rules}`;

describe('model validation: every error path names field and reason', () => {
  const cases: [string, string, RegExp][] = [
    ['YAML syntax', 'kind: [unclosed', /YAML syntax/],
    ['missing kind', 'apiVersion: v1\nmetadata: {name: x}', /^kind: is required/],
    ['unknown kind', 'apiVersion: v1\nkind: Pod\nmetadata: {name: x}', /kind: unknown kind "Pod"/],
    [
      'wrong apiVersion',
      'apiVersion: gateway.networking.k8s.io/v9\nkind: HTTPRoute\nmetadata: {name: x}\nspec: {}',
      /apiVersion: "gateway.networking.k8s.io\/v9" is not an apiVersion of HTTPRoute/,
    ],
    ['missing metadata', 'apiVersion: v1\nkind: Service\nspec: {}', /^metadata: is required/],
    [
      'inline JWKS that is not a key set',
      'apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicy\nmetadata: {name: p}\nspec:\n' +
        '  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]\n' +
        '  jwt: {providers: [{name: a, localJWKS: {type: Inline, inline: \'{"k": 1}\'}}]}',
      /spec\.jwt\.providers\[0\]\.localJWKS\.inline: must be a JWKS document/,
    ],
    [
      'bad name',
      'apiVersion: v1\nkind: Service\nmetadata: {name: Bad_Name}\nspec: {}',
      /metadata.name: "Bad_Name" is not a valid name/,
    ],
    [
      'missing spec',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}',
      /^spec: is required/,
    ],
    [
      'unknown field with suggestion',
      route('  - backendRefs: [{name: web, port: 80, weigth: 1}]'),
      /weigth: unknown field "weigth" \(did you mean "weight"\?\)/,
    ],
    [
      'wrong type',
      route('  - backendRefs: [{name: web, port: "80"}]'),
      /port: expected an integer, got a string/,
    ],
    [
      'out of range',
      route('  - backendRefs: [{name: web, port: 70000}]'),
      /port: 70000 is above the maximum 65535/,
    ],
    [
      'enum',
      route('  - matches: [{path: {type: Glob, value: /x}}]'),
      /path.type: "Glob" is not one of/,
    ],
    [
      'path must start with /',
      route('  - matches: [{path: {value: x}}]'),
      /path.value: "x" must start with "\/"/,
    ],
    [
      'bad regex',
      route('  - matches: [{path: {type: RegularExpression, value: "(("}}]'),
      /is not a valid regular expression/,
    ],
    [
      'service backend needs port',
      route('  - backendRefs: [{name: web}]'),
      /backendRefs\[0\].port: is required when referring to a Service/,
    ],
    [
      'filter field missing',
      route('  - filters: [{type: URLRewrite}]'),
      /urlRewrite: is required when type is URLRewrite/,
    ],
    [
      'filter field mismatch',
      route(
        '  - filters: [{type: RequestHeaderModifier, requestHeaderModifier: {}, urlRewrite: {}}]',
      ),
      /urlRewrite: must not be set when type is RequestHeaderModifier/,
    ],
    [
      'redirect with backends',
      route(
        '  - filters: [{type: RequestRedirect, requestRedirect: {statusCode: 301}}]\n    backendRefs: [{name: web, port: 80}]',
      ),
      /must be empty when the rule has a RequestRedirect filter/,
    ],
    [
      'redirect status code',
      route('  - filters: [{type: RequestRedirect, requestRedirect: {statusCode: 305}}]'),
      /305 is not one of 301, 302, 303, 307, 308/,
    ],
    [
      'ReplacePrefixMatch needs PathPrefix',
      route(
        '  - matches: [{path: {type: Exact, value: /a}}]\n    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]\n    backendRefs: [{name: web, port: 80}]',
      ),
      /ReplacePrefixMatch needs every match of the rule to be a PathPrefix match/,
    ],
    [
      'duration',
      route('  - timeouts: {request: 5 minutes}\n    backendRefs: [{name: web, port: 80}]'),
      /"5 minutes" is not a duration/,
    ],
    [
      'duplicate listener names',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {gatewayClassName: c, listeners: [{name: a, port: 80, protocol: HTTP}, {name: a, port: 81, protocol: HTTP}]}',
      /listeners\[1\].name: duplicates item 0/,
    ],
    [
      'https needs tls',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {gatewayClassName: c, listeners: [{name: a, port: 443, protocol: HTTPS}]}',
      /listeners\[0\].tls: is required for an HTTPS listener/,
    ],
    [
      'workload ip',
      'apiVersion: shoal.dev/v1alpha1\nkind: Workload\nmetadata: {name: w}\nspec: {address: 10.0.0.300, node: n}',
      /spec.address: "10.0.0.300" is not an IPv4 or IPv6 address/,
    ],
    [
      'workload needs node',
      'apiVersion: shoal.dev/v1alpha1\nkind: Workload\nmetadata: {name: w}\nspec: {address: 10.0.0.3}',
      /spec.node: is required/,
    ],
    [
      'cidr',
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec: {rules: [{from: [{source: {ipBlocks: [10.0.0.0/33]}}]}]}',
      /is not a CIDR/,
    ],
    [
      'istio CUSTOM action',
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec: {action: CUSTOM}',
      /CUSTOM is not supported/,
    ],
    [
      'policy needs target',
      'apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: BackendTrafficPolicy\nmetadata: {name: p}\nspec: {retry: {numRetries: 1}}',
      /targetRefs: is required/,
    ],
    [
      'global rate limit',
      'apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: BackendTrafficPolicy\nmetadata: {name: p}\nspec: {targetRefs: [{kind: Gateway, name: g}], rateLimit: {type: Global}}',
      /Global rate limiting needs an external rate limit service/,
    ],
    [
      'jwt provider reference',
      'apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicy\nmetadata: {name: p}\nspec: {targetRefs: [{kind: Gateway, name: g}], jwt: {providers: [{name: a, remoteJWKS: {uri: "https://x/jwks"}}]}, authorization: {rules: [{action: Allow, principal: {jwt: {provider: b}}}]}}',
      /"b" is not a provider listed in jwt.providers/,
    ],
    [
      'jwks uri',
      'apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicy\nmetadata: {name: p}\nspec: {targetRefs: [{kind: Gateway, name: g}], jwt: {providers: [{name: a, remoteJWKS: {uri: "ftp://x"}}]}}',
      /must be an http\(s\) URL/,
    ],
    [
      'rollout wave needs one of',
      'apiVersion: shoal.dev/v1alpha1\nkind: RolloutPolicy\nmetadata: {name: r}\nspec: {waves: [{percentage: 10, selector: {matchLabels: {a: b}}}]}',
      /set exactly one of percentage, selector for a wave/,
    ],
    [
      'rollout wait needs deadline',
      'apiVersion: shoal.dev/v1alpha1\nkind: RolloutPolicy\nmetadata: {name: r}\nspec: {offlineEdge: {action: Wait}}',
      /deadline: is required when action is Wait/,
    ],
    [
      'rollout error rate',
      'apiVersion: shoal.dev/v1alpha1\nkind: RolloutPolicy\nmetadata: {name: r}\nspec: {health: {maxErrorRate: 5}}',
      /maxErrorRate: 5 is above the maximum 1/,
    ],
    [
      'label values are strings',
      'apiVersion: v1\nkind: Service\nmetadata: {name: s, labels: {tier: 3}}\nspec: {}',
      /labels.tier: expected a string, got a number/,
    ],
    [
      'unknown top-level field',
      'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspce: {}',
      /spce: unknown top-level field/,
    ],
  ];
  for (const [name, yaml, want] of cases) {
    it(name, () => {
      const got = problems(yaml);
      assert.ok(
        got.some((g) => want.test(g)),
        `expected ${want} in:\n${got.join('\n')}`,
      );
    });
  }
});

describe('model parsing', () => {
  it('reports file, document, line and column, and collects all documents', () => {
    const text =
      'apiVersion: v1\nkind: Service\nmetadata: {name: ok}\nspec: {}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  ports:\n    - port: 0\n---\nkind: Nope\n';
    const r = parseManifests(text, 'svc.yaml');
    assert.equal(r.resources.length, 1);
    const port = r.issues.find((i) => i.path === 'spec.ports[0].port')!;
    assert.deepEqual([port.file, port.document, port.line, port.column], ['svc.yaml', 1, 11, 13]);
    assert.equal(r.issues.find((i) => i.path === 'kind')!.document, 2);
  });

  it('accepts upstream manifests unchanged and drops status', () => {
    const text = `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: prod
  uid: 1234
  resourceVersion: "99"
  managedFields: [{manager: kube-controller-manager}]
  ownerReferences: []
spec:
  type: ClusterIP
  clusterIP: 10.96.1.2
  sessionAffinity: None
  ipFamilies: [IPv4]
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
  selector: {app: web}
status: {loadBalancer: {}}
`;
    const [svc] = parseManifestsOrThrow(text, 'svc.yaml');
    assert.equal(svc!.kind, 'Service');
    assert.equal((svc as unknown as Record<string, unknown>).status, undefined);
  });

  it('defaults the namespace of namespaced kinds to "default"', () => {
    const [svc] = parseManifestsOrThrow(
      'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {}',
    );
    assert.equal(svc!.metadata.namespace, 'default');
  });

  it('throws ManifestInvalidError carrying every issue', () => {
    assert.throws(
      () => parseManifestsOrThrow('kind: A\n---\nkind: B\n', 'two.yaml'),
      (e: unknown) =>
        e instanceof ManifestInvalidError &&
        e.issues.length === 2 &&
        /two\.yaml: 2 problems/.test(e.message),
    );
  });
});
