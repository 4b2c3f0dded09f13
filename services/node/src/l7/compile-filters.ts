import { createPublicKey, type JsonWebKey } from 'node:crypto';
/** HTTP filter configs (Envoy v3 typed_config) → model filters and per-route overrides. */
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet } from 'jose';
import {
  arr,
  at,
  cidr,
  durationMs,
  headerMatcher,
  obj,
  routeMatch,
  strMatcher,
  u32,
  unpackAny,
  type Raw,
} from './decode.js';
import type {
  CorsPolicy,
  FilterOverride,
  HttpFilter,
  JwtFilter,
  JwtProvider,
  JwtRequirement,
  RbacPermission,
  RbacPrincipal,
  RbacRules,
  TokenBucketSpec,
} from './model.js';

const ENVOY = 'envoy.extensions.filters.http.';
export const FilterTypes = {
  router: `${ENVOY}router.v3.Router`,
  jwt: `${ENVOY}jwt_authn.v3.JwtAuthentication`,
  jwtPerRoute: `${ENVOY}jwt_authn.v3.PerRouteConfig`,
  cors: `${ENVOY}cors.v3.Cors`,
  corsPolicy: `${ENVOY}cors.v3.CorsPolicy`,
  rateLimit: `${ENVOY}local_ratelimit.v3.LocalRateLimit`,
  rbac: `${ENVOY}rbac.v3.RBAC`,
  rbacPerRoute: `${ENVOY}rbac.v3.RBACPerRoute`,
  basicAuth: `${ENVOY}basic_auth.v3.BasicAuth`,
  basicAuthPerRoute: `${ENVOY}basic_auth.v3.BasicAuthPerRoute`,
} as const;

function jwtRequirement(r: Raw): JwtRequirement {
  if (typeof r.providerName === 'string') return { kind: 'provider', provider: r.providerName };
  const any = obj(r.requiresAny);
  if (any) return { kind: 'any', of: arr(any.requirements).map(jwtRequirement) };
  const all = obj(r.requiresAll);
  if (all) return { kind: 'all', of: arr(all.requirements).map(jwtRequirement) };
  if (r.allowMissing) return { kind: 'allowMissing' };
  if (r.allowMissingOrFailed) return { kind: 'allowMissingOrFailed' };
  throw new Error('requirement names no provider');
}

function jwtProvider(name: string, p: Raw): JwtProvider {
  let keys: JwtProvider['keys'];
  const local = obj(p.localJwks);
  const remote = obj(p.remoteJwks);
  if (local) {
    const text = String(local.inlineString ?? '');
    let jwks: JSONWebKeySet;
    try {
      jwks = JSON.parse(text) as JSONWebKeySet;
    } catch {
      throw new Error('localJwks.inlineString is not JSON');
    }
    if (!Array.isArray(jwks.keys) || jwks.keys.length === 0)
      throw new Error('localJwks has no keys');
    // Every key must be usable now: a key that cannot be imported would reject every token
    // later, so the config is refused (NACKed) instead and the old one keeps serving.
    jwks.keys.forEach((k, i) => {
      try {
        createPublicKey({ key: k as unknown as JsonWebKey, format: 'jwk' });
      } catch (err) {
        throw new Error(
          `localJwks.keys[${i}] (kid ${JSON.stringify(k.kid ?? '')}) is not a usable key: ${(err as Error).message}`,
        );
      }
    });
    keys = at('localJwks', () => createLocalJWKSet(jwks));
  } else if (remote) {
    const uri = String(obj(remote.httpUri)?.uri ?? '');
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new Error(`remoteJwks.httpUri.uri ${JSON.stringify(uri)} is not a URL`);
    }
    keys = createRemoteJWKSet(url, {
      timeoutDuration: durationMs(obj(remote.httpUri)?.timeout) ?? 5000,
      cacheMaxAge: durationMs(remote.cacheDuration) ?? 300_000,
    });
  } else throw new Error('provider has neither localJwks nor remoteJwks');
  return {
    name,
    ...(typeof p.issuer === 'string' && p.issuer ? { issuer: p.issuer } : {}),
    audiences: arr<string>(p.audiences),
    keys,
    forward: p.forward === true,
    fromHeaders: arr(p.fromHeaders).map((h) => ({
      name: String(h.name).toLowerCase(),
      prefix: String(h.valuePrefix ?? ''),
    })),
    ...(typeof p.payloadInMetadata === 'string' && p.payloadInMetadata
      ? { payloadInMetadata: p.payloadInMetadata }
      : {}),
    claimToHeaders: arr(p.claimToHeaders).map((c) => ({
      header: String(c.headerName).toLowerCase(),
      claim: String(c.claimName),
    })),
  };
}

function jwtFilter(m: Raw): JwtFilter {
  const providers = new Map<string, JwtProvider>();
  for (const [n, p] of Object.entries(obj(m.providers) ?? {}))
    providers.set(
      n,
      at(`providers.${n}`, () => jwtProvider(n, p as Raw)),
    );
  const check = (r: JwtRequirement, path: string): void => {
    if (r.kind === 'provider' && !providers.has(r.provider))
      throw new Error(`${path}: unknown provider ${r.provider}`);
    if (r.kind === 'any' || r.kind === 'all') r.of.forEach((x) => check(x, path));
  };
  const requirements = new Map<string, JwtRequirement>();
  for (const [n, r] of Object.entries(obj(m.requirementMap) ?? {})) {
    const req = at(`requirementMap.${n}`, () => jwtRequirement(r as Raw));
    check(req, `requirementMap.${n}`);
    requirements.set(n, req);
  }
  const rules = arr(m.rules).map((r, i) =>
    at(`rules[${i}]`, () => {
      const requires = obj(r.requires) ? jwtRequirement(obj(r.requires)!) : undefined;
      if (requires) check(requires, `rules[${i}]`);
      return { match: routeMatch(obj(r.match) ?? {}), ...(requires ? { requires } : {}) };
    }),
  );
  return { kind: 'jwt', providers, requirements, rules };
}

function permission(p: Raw): RbacPermission {
  if (p.any) return { kind: 'any' };
  const and = obj(p.andRules);
  if (and) return { kind: 'and', of: arr(and.rules).map(permission) };
  const or = obj(p.orRules);
  if (or) return { kind: 'or', of: arr(or.rules).map(permission) };
  if (obj(p.notRule)) return { kind: 'not', of: permission(obj(p.notRule)!) };
  if (obj(p.header)) return { kind: 'header', header: headerMatcher(obj(p.header)!) };
  if (obj(p.urlPath)) return { kind: 'path', match: strMatcher(obj(p.urlPath)!.path) };
  if (p.destinationPort !== undefined)
    return { kind: 'destinationPort', port: Number(p.destinationPort) };
  if (obj(p.destinationIp)) return { kind: 'destinationIp', cidr: cidr(p.destinationIp) };
  throw new Error(`unsupported permission ${Object.keys(p).join(',') || '(empty)'}`);
}

function principal(p: Raw): RbacPrincipal {
  if (p.any) return { kind: 'any' };
  const and = obj(p.andIds);
  if (and) return { kind: 'and', of: arr(and.ids).map(principal) };
  const or = obj(p.orIds);
  if (or) return { kind: 'or', of: arr(or.ids).map(principal) };
  if (obj(p.notId)) return { kind: 'not', of: principal(obj(p.notId)!) };
  const auth = obj(p.authenticated);
  if (auth)
    return auth.principalName
      ? { kind: 'authenticated', match: strMatcher(auth.principalName) }
      : { kind: 'authenticated' };
  const ip = obj(p.directRemoteIp) ?? obj(p.remoteIp) ?? obj(p.sourceIp);
  if (ip) return { kind: 'sourceIp', cidr: cidr(ip) };
  if (obj(p.header)) return { kind: 'header', header: headerMatcher(obj(p.header)!) };
  if (obj(p.urlPath)) return { kind: 'path', match: strMatcher(obj(p.urlPath)!.path) };
  const md = obj(p.metadata);
  if (md) {
    const value = obj(md.value);
    const sm = value?.stringMatch ?? obj(obj(value?.listMatch)?.oneOf)?.stringMatch;
    return {
      kind: 'metadata',
      filter: String(md.filter ?? ''),
      path: arr(md.path).map((s) => String(s.key)),
      ...(sm ? { match: strMatcher(sm) } : {}),
      invert: md.invert === true,
    };
  }
  throw new Error(`unsupported principal ${Object.keys(p).join(',') || '(empty)'}`);
}

export function rbacRules(raw: Raw | undefined): RbacRules | undefined {
  if (!raw) return undefined;
  const action = String(raw.action ?? 'ALLOW');
  if (action !== 'ALLOW' && action !== 'DENY' && action !== 'LOG')
    throw new Error(`unknown RBAC action ${action}`);
  return {
    action,
    policies: Object.entries(obj(raw.policies) ?? {}).map(([name, v]) =>
      at(`policies.${name}`, () => {
        const p = v as Raw;
        return {
          name,
          permissions: arr(p.permissions).map((x, i) =>
            at(`permissions[${i}]`, () => permission(x)),
          ),
          principals: arr(p.principals).map((x, i) => at(`principals[${i}]`, () => principal(x))),
        };
      }),
    ),
  };
}

/** htpasswd lines "user:{SHA}base64(sha1(password))", the only scheme Envoy accepts. */
function htpasswd(raw: unknown): Map<string, string> {
  const text = String(obj(raw)?.inlineString ?? '');
  const users = new Map<string, string>();
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    const m = /^([^:]+):\{SHA\}([A-Za-z0-9+/=]{27,28})$/.exec(line.trim());
    if (!m) throw new Error(`users line ${i + 1}: expected "name:{SHA}<base64 sha1>"`);
    if (users.has(m[1]!)) throw new Error(`users line ${i + 1}: duplicate user ${m[1]}`);
    users.set(m[1]!, m[2]!);
  }
  if (users.size === 0) throw new Error('no users');
  return users;
}

function tokenBucket(m: Raw): TokenBucketSpec | undefined {
  const tb = obj(m.tokenBucket);
  if (!tb) return undefined;
  const maxTokens = Number(tb.maxTokens ?? 0);
  const fillIntervalMs = durationMs(tb.fillInterval) ?? 0;
  if (maxTokens < 1) throw new Error('tokenBucket.maxTokens must be ≥ 1');
  if (fillIntervalMs <= 0) throw new Error('tokenBucket.fillInterval must be > 0');
  const code = Number(obj(m.status)?.code ?? 429);
  return {
    maxTokens,
    tokensPerFill: u32(tb.tokensPerFill) ?? 1,
    fillIntervalMs,
    status: code >= 400 && code < 600 ? code : 429,
  };
}

function cors(m: Raw): CorsPolicy {
  return {
    origins: arr(m.allowOriginStringMatch).map((s, i) =>
      at(`allowOriginStringMatch[${i}]`, () => strMatcher(s)),
    ),
    methods: String(m.allowMethods ?? ''),
    headers: String(m.allowHeaders ?? ''),
    expose: String(m.exposeHeaders ?? ''),
    maxAge: String(m.maxAge ?? ''),
    credentials: obj(m.allowCredentials)?.value === true,
  };
}

/** A listener-level filter; undefined for the router. Unknown types are rejected. */
export function compileFilter(type: string, m: Raw): HttpFilter | undefined {
  switch (type) {
    case FilterTypes.router:
      return undefined;
    case FilterTypes.jwt:
      return jwtFilter(m);
    case FilterTypes.cors:
      return { kind: 'cors' };
    case FilterTypes.rateLimit: {
      const bucket = tokenBucket(m);
      return { kind: 'rateLimit', ...(bucket ? { bucket } : {}) };
    }
    case FilterTypes.rbac: {
      const rules = rbacRules(obj(m.rules));
      return { kind: 'rbac', ...(rules ? { rules } : {}) };
    }
    case FilterTypes.basicAuth:
      return m.users ? { kind: 'basicAuth', users: htpasswd(m.users) } : { kind: 'basicAuth' };
    default:
      throw new Error(`unsupported HTTP filter type ${type}`);
  }
}

/** A typed_per_filter_config entry. */
export function compileOverride(value: unknown): FilterOverride {
  const a = unpackAny(value);
  if (!a) throw new Error('empty typed config');
  const m = a.msg;
  switch (a.type) {
    case FilterTypes.jwtPerRoute:
      if (m.disabled) return { kind: 'disabled' };
      if (typeof m.requirementName !== 'string') throw new Error('PerRouteConfig names nothing');
      return { kind: 'jwt', requirement: m.requirementName };
    case FilterTypes.corsPolicy:
      return { kind: 'cors', policy: cors(m) };
    case FilterTypes.rateLimit: {
      const bucket = tokenBucket(m);
      return bucket ? { kind: 'rateLimit', bucket } : { kind: 'disabled' };
    }
    case FilterTypes.rbacPerRoute: {
      const rbac = obj(m.rbac);
      if (!rbac) return { kind: 'disabled' };
      const rules = rbacRules(obj(rbac.rules));
      return { kind: 'rbac', ...(rules ? { rules } : {}) };
    }
    case FilterTypes.basicAuthPerRoute:
      return { kind: 'basicAuth', users: htpasswd(m.users) };
    default:
      throw new Error(`unsupported per-route filter config ${a.type}`);
  }
}
