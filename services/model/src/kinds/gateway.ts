/** Gateway API v1 (standard channel) and the v1alpha2 TCPRoute/TLSRoute. */
import {
  any,
  arr,
  check,
  int,
  map,
  obj,
  oneOfStr,
  req,
  str,
  type FieldPath,
  type Report,
  type Schema,
} from '../schema.js';
import {
  backendRef,
  backendRefFields,
  duration,
  headerMatch,
  headerModifier,
  labelSelector,
  parentRef,
  port,
  requirePortForService,
} from './common.js';

export const gatewayClassSpec = obj({
  controllerName: req(str()),
  description: str(),
  parametersRef: any,
});

const certRef = obj({ group: str(), kind: str(), name: req(str()), namespace: str() });

const listener = obj(
  {
    name: req(str({ format: 'hostname' })),
    hostname: str({ format: 'hostname' }),
    port: req(port),
    protocol: req(str()),
    tls: obj({
      mode: oneOfStr('Terminate', 'Passthrough'),
      certificateRefs: arr(certRef, { max: 64 }),
      frontendValidation: any,
      options: map(str()),
    }),
    allowedRoutes: obj({
      namespaces: obj({ from: oneOfStr('All', 'Same', 'Selector'), selector: labelSelector }),
      kinds: arr(obj({ group: str(), kind: req(str()) })),
    }),
  },
  {
    check: check<{
      protocol: string;
      tls?: { mode?: string; certificateRefs?: unknown[] };
      hostname?: string;
    }>((v, p, r) => {
      const mode = v.tls?.mode ?? 'Terminate';
      if (v.protocol === 'HTTPS' && !v.tls) r([...p, 'tls'], 'is required for an HTTPS listener');
      if (v.protocol === 'HTTPS' && mode === 'Passthrough')
        r(
          [...p, 'tls', 'mode'],
          'Passthrough is not allowed on an HTTPS listener; use protocol TLS',
        );
      if (v.tls && mode === 'Terminate' && (v.tls.certificateRefs ?? []).length === 0)
        r([...p, 'tls', 'certificateRefs'], 'needs at least one certificate for TLS termination');
      if ((v.protocol === 'HTTP' || v.protocol === 'TCP') && v.tls)
        r([...p, 'tls'], `must not be set for protocol ${v.protocol}`);
      if (v.protocol === 'TCP' && v.hostname)
        r([...p, 'hostname'], 'must not be set for protocol TCP');
    }),
  },
);

export const gatewaySpec = obj({
  gatewayClassName: req(str()),
  listeners: req(
    arr(listener, {
      min: 1,
      max: 64,
      check: check<{ name?: string }[]>((v, p, r) => uniqueBy(v, (l) => l.name, p, r, 'name')),
    }),
  ),
  addresses: arr(obj({ type: str(), value: req(str()) })),
  infrastructure: any,
  backendTLS: any,
  allowedListeners: any,
});

function uniqueBy<T>(
  items: T[],
  key: (t: T) => string | undefined,
  p: FieldPath,
  r: Report,
  field: string,
) {
  const seen = new Map<string, number>();
  items.forEach((it, i) => {
    const k = key(it);
    if (k === undefined) return;
    const prev = seen.get(k);
    if (prev !== undefined)
      r([...p, i, field], `duplicates item ${prev} ("${k}"); ${field}s must be unique`);
    else seen.set(k, i);
  });
}

const pathModifier = obj(
  {
    type: req(oneOfStr('ReplaceFullPath', 'ReplacePrefixMatch')),
    replaceFullPath: str(),
    replacePrefixMatch: str(),
  },
  {
    check: check<{ type: string; replaceFullPath?: string; replacePrefixMatch?: string }>(
      (v, p, r) => {
        if (v.type === 'ReplaceFullPath' && v.replaceFullPath === undefined)
          r([...p, 'replaceFullPath'], 'is required when type is ReplaceFullPath');
        if (v.type === 'ReplacePrefixMatch' && v.replacePrefixMatch === undefined)
          r([...p, 'replacePrefixMatch'], 'is required when type is ReplacePrefixMatch');
      },
    ),
  },
);

const FILTER_FIELDS: Record<string, string> = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  RequestMirror: 'requestMirror',
  ExtensionRef: 'extensionRef',
  CORS: 'cors',
};

function routeFilter(allowed: string[]): Schema {
  return obj(
    {
      type: req(oneOfStr(...allowed)),
      requestHeaderModifier: headerModifier,
      responseHeaderModifier: headerModifier,
      requestRedirect: obj(
        {
          scheme: oneOfStr('http', 'https'),
          hostname: str({ format: 'hostname' }),
          path: pathModifier,
          port,
          statusCode: int(),
        },
        {
          check: check<{ statusCode?: number }>((v, p, r) => {
            if (v.statusCode !== undefined && ![301, 302, 303, 307, 308].includes(v.statusCode))
              r([...p, 'statusCode'], `${v.statusCode} is not one of 301, 302, 303, 307, 308`);
          }),
        },
      ),
      urlRewrite: obj({ hostname: str({ format: 'hostname' }), path: pathModifier }),
      requestMirror: obj({
        backendRef: req(backendRef),
        percent: int(0, 100),
        fraction: obj({ numerator: req(int(0)), denominator: int(1) }),
      }),
      extensionRef: obj({ group: req(str()), kind: req(str()), name: req(str()) }),
      cors: any,
    },
    {
      check: check<Record<string, unknown> & { type: string }>((v, p, r) => {
        const want = FILTER_FIELDS[v.type];
        for (const [type, field] of Object.entries(FILTER_FIELDS)) {
          if (field === want && v[field] === undefined)
            r([...p, field], `is required when type is ${type}`);
          if (field !== want && v[field] !== undefined)
            r([...p, field], `must not be set when type is ${v.type}`);
        }
      }),
    },
  );
}

const HTTP_FILTERS = [
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestRedirect',
  'URLRewrite',
  'RequestMirror',
  'ExtensionRef',
  'CORS',
];
const httpFilter = routeFilter(HTTP_FILTERS);

const httpMatch = obj({
  path: obj(
    { type: oneOfStr('Exact', 'PathPrefix', 'RegularExpression'), value: str() },
    {
      check: check<{ type?: string; value?: string }>((v, p, r) => {
        const type = v.type ?? 'PathPrefix';
        if (v.value === undefined) return;
        if (type === 'RegularExpression') {
          try {
            new RegExp(v.value);
          } catch (e) {
            r(
              [...p, 'value'],
              `"${v.value}" is not a valid regular expression: ${(e as Error).message}`,
            );
          }
        } else if (!v.value.startsWith('/')) r([...p, 'value'], `"${v.value}" must start with "/"`);
        else if (/\/\/|\/\.\.?(\/|$)|[?#]/.test(v.value))
          r([...p, 'value'], `"${v.value}" must not contain "//", "/./", "/../", "?" or "#"`);
      }),
    },
  ),
  headers: arr(headerMatch, { max: 16 }),
  queryParams: arr(headerMatch, { max: 16 }),
  method: oneOfStr('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'),
});

const httpRule = obj(
  {
    name: str(),
    matches: arr(httpMatch, { max: 64 }),
    filters: arr(httpFilter, { max: 16 }),
    backendRefs: arr(
      obj({ ...backendRefFields, filters: arr(httpFilter) }, { check: requirePortForService }),
      { max: 16 },
    ),
    timeouts: obj({ request: duration, backendRequest: duration }),
    retry: any,
    sessionPersistence: any,
  },
  {
    check: check<{
      matches?: { path?: { type?: string } }[];
      filters?: {
        type: string;
        urlRewrite?: { path?: { type: string } };
        requestRedirect?: { path?: { type: string } };
      }[];
      backendRefs?: unknown[];
    }>((v, p, r) => {
      const types = (v.filters ?? []).map((f) => f.type);
      if (types.includes('RequestRedirect') && types.includes('URLRewrite'))
        r([...p, 'filters'], 'RequestRedirect and URLRewrite cannot be used together');
      if (types.includes('RequestRedirect') && (v.backendRefs ?? []).length > 0)
        r([...p, 'backendRefs'], 'must be empty when the rule has a RequestRedirect filter');
      for (const t of [
        'RequestHeaderModifier',
        'ResponseHeaderModifier',
        'RequestRedirect',
        'URLRewrite',
      ]) {
        if (types.filter((x) => x === t).length > 1)
          r([...p, 'filters'], `${t} may appear only once per rule`);
      }
      (v.filters ?? []).forEach((f, i) => {
        const pm = f.urlRewrite?.path ?? f.requestRedirect?.path;
        if (pm?.type !== 'ReplacePrefixMatch') return;
        const ok = (v.matches ?? [{}]).every(
          (m) => (m.path?.type ?? 'PathPrefix') === 'PathPrefix',
        );
        if (!ok)
          r(
            [...p, 'filters', i],
            'ReplacePrefixMatch needs every match of the rule to be a PathPrefix match',
          );
      });
    }),
  },
);

const hostnames = arr(str({ format: 'hostname' }), { max: 16 });

export const httpRouteSpec = obj({
  parentRefs: arr(parentRef, { max: 32 }),
  hostnames,
  rules: arr(httpRule, { max: 16 }),
  useDefaultGateways: any,
});

const grpcMatch = obj({
  method: obj(
    { type: oneOfStr('Exact', 'RegularExpression'), service: str(), method: str() },
    {
      check: check<{ type?: string; service?: string; method?: string }>((v, p, r) => {
        if (v.service === undefined && v.method === undefined) r(p, 'set service, method or both');
        if ((v.type ?? 'Exact') === 'Exact') {
          if (
            v.service !== undefined &&
            !/^[A-Za-z_][A-Za-z_0-9]*(\.[A-Za-z_][A-Za-z_0-9]*)*$/.test(v.service)
          )
            r([...p, 'service'], `"${v.service}" is not a fully-qualified gRPC service name`);
          if (v.method !== undefined && !/^[A-Za-z_][A-Za-z_0-9]*$/.test(v.method))
            r([...p, 'method'], `"${v.method}" is not a gRPC method name`);
        }
      }),
    },
  ),
  headers: arr(headerMatch, { max: 16 }),
});

export const grpcRouteSpec = obj({
  parentRefs: arr(parentRef, { max: 32 }),
  hostnames,
  rules: arr(
    obj({
      name: str(),
      matches: arr(grpcMatch, { max: 64 }),
      filters: arr(
        routeFilter([
          'RequestHeaderModifier',
          'ResponseHeaderModifier',
          'RequestMirror',
          'ExtensionRef',
        ]),
      ),
      backendRefs: arr(
        obj({ ...backendRefFields, filters: any }, { check: requirePortForService }),
        { max: 16 },
      ),
      sessionPersistence: any,
    }),
    { max: 16 },
  ),
});

const l4Rules = req(
  arr(obj({ name: str(), backendRefs: req(arr(backendRef, { min: 1, max: 16 })) }), {
    min: 1,
    max: 16,
  }),
);
export const tcpRouteSpec = obj({
  parentRefs: arr(parentRef, { max: 32 }),
  rules: l4Rules,
  useDefaultGateways: any,
});
export const tlsRouteSpec = obj({
  parentRefs: arr(parentRef, { max: 32 }),
  hostnames,
  rules: l4Rules,
  useDefaultGateways: any,
});

export const referenceGrantSpec = obj({
  from: req(
    arr(obj({ group: req(str()), kind: req(str()), namespace: req(str({ format: 'dnsLabel' })) }), {
      min: 1,
    }),
  ),
  to: req(arr(obj({ group: req(str()), kind: req(str()), name: str() }), { min: 1 })),
});
