/**
 * The HTTP filter chain of a waypoint listener, in the listener's order: JWT authentication,
 * basic auth, CORS, local rate limit, RBAC. Each filter either lets the request through
 * (possibly adding metadata, upstream headers or response headers) or answers it locally.
 * Per-route / per-virtual-host typed_per_filter_config overrides the listener's config.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { jwtVerify, type JWTPayload } from 'jose';
import { inCidr } from '../l4/authz.js';
import type {
  CorsPolicy,
  FilterOverride,
  JwtFilter,
  JwtProvider,
  JwtRequirement,
  NamedFilter,
  RbacPermission,
  RbacPrincipal,
  RbacRules,
  Route,
  TokenBucketSpec,
  VirtualHost,
} from './model.js';
import {
  headerValue,
  matchHeader,
  matchRoute,
  matchStr,
  type Headers,
  type RequestView,
} from './router.js';

export const JWT_FILTER = 'envoy.filters.http.jwt_authn';

export interface FilterContext {
  readonly req: RequestView;
  /** SPIFFE id of the downstream (the HBONE peer's client certificate). */
  readonly peer: string;
  readonly sourceIp: string;
  readonly destinationIp: string;
  readonly destinationPort: number;
  /** Headers sent upstream; filters may add (claim_to_headers) or strip (the JWT). */
  readonly upstreamHeaders: Headers;
  /** Headers added to the response (CORS). */
  readonly responseHeaders: Headers;
  /** Dynamic metadata by filter name, e.g. JWT payloads under payload_in_metadata. */
  readonly metadata: Map<string, Record<string, unknown>>;
}

export interface LocalReply {
  readonly status: number;
  readonly headers?: Headers;
  readonly body: string;
}

/** Token buckets, kept across config pushes by (listener, route, bucket spec). */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; last: number }>();

  take(key: string, spec: TokenBucketSpec, now = Date.now()): boolean {
    const k = `${key}|${spec.maxTokens}|${spec.tokensPerFill}|${spec.fillIntervalMs}`;
    let b = this.buckets.get(k);
    if (!b) this.buckets.set(k, (b = { tokens: spec.maxTokens, last: now }));
    const fills = Math.floor((now - b.last) / spec.fillIntervalMs);
    if (fills > 0) {
      b.tokens = Math.min(spec.maxTokens, b.tokens + fills * spec.tokensPerFill);
      b.last += fills * spec.fillIntervalMs;
    }
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }
}

function override(name: string, route: Route, vh: VirtualHost): FilterOverride | undefined {
  return route.perFilter.get(name) ?? vh.perFilter.get(name);
}

// ---- JWT ---------------------------------------------------------------------------------

function tokenFor(p: JwtProvider, req: RequestView): string | undefined {
  const from =
    p.fromHeaders.length > 0 ? p.fromHeaders : [{ name: 'authorization', prefix: 'Bearer ' }];
  for (const h of from) {
    const v = headerValue(req.headers, h.name);
    if (v?.startsWith(h.prefix)) return v.slice(h.prefix.length).trim();
  }
  if (p.fromHeaders.length === 0) return req.query.get('access_token') ?? undefined;
  return undefined;
}

type JwtOutcome = 'ok' | 'missing' | 'invalid';

async function verifyProvider(p: JwtProvider, ctx: FilterContext): Promise<JwtOutcome> {
  const token = tokenFor(p, ctx.req);
  if (!token) return 'missing';
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, p.keys, {
      ...(p.issuer ? { issuer: p.issuer } : {}),
      ...(p.audiences.length > 0 ? { audience: [...p.audiences] } : {}),
    }));
  } catch {
    return 'invalid';
  }
  if (p.payloadInMetadata) {
    const md = ctx.metadata.get(JWT_FILTER) ?? {};
    md[p.payloadInMetadata] = payload;
    ctx.metadata.set(JWT_FILTER, md);
  }
  for (const c of p.claimToHeaders) {
    const v = payload[c.claim];
    if (v !== undefined)
      ctx.upstreamHeaders[c.header] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  if (!p.forward)
    for (const h of p.fromHeaders.length > 0 ? p.fromHeaders : [{ name: 'authorization' }])
      delete ctx.upstreamHeaders[h.name];
  return 'ok';
}

async function evalRequirement(
  f: JwtFilter,
  r: JwtRequirement,
  ctx: FilterContext,
): Promise<JwtOutcome> {
  switch (r.kind) {
    case 'provider':
      return verifyProvider(f.providers.get(r.provider)!, ctx);
    case 'any': {
      let worst: JwtOutcome = 'missing';
      for (const x of r.of) {
        const o = await evalRequirement(f, x, ctx);
        if (o === 'ok') return 'ok';
        if (o === 'invalid') worst = 'invalid';
      }
      return worst;
    }
    case 'all':
      for (const x of r.of) {
        const o = await evalRequirement(f, x, ctx);
        if (o !== 'ok') return o;
      }
      return 'ok';
    case 'allowMissing': {
      let any: JwtOutcome = 'ok';
      for (const p of f.providers.values()) {
        const o = await verifyProvider(p, ctx);
        if (o === 'invalid') any = 'invalid';
      }
      return any;
    }
    case 'allowMissingOrFailed':
      for (const p of f.providers.values()) await verifyProvider(p, ctx);
      return 'ok';
  }
}

async function jwt(
  nf: NamedFilter & { filter: JwtFilter },
  route: Route,
  vh: VirtualHost,
  ctx: FilterContext,
): Promise<LocalReply | undefined> {
  const o = override(nf.name, route, vh);
  let req: JwtRequirement | undefined;
  if (o?.kind === 'disabled') return undefined;
  if (o?.kind === 'jwt') {
    req = nf.filter.requirements.get(o.requirement);
    if (!req) return { status: 500, body: `unknown JWT requirement ${o.requirement}` };
  } else if (!nf.disabled) {
    req = nf.filter.rules.find((r) => matchRoute(r.match, ctx.req))?.requires;
  }
  if (!req) return undefined;
  const outcome = await evalRequirement(nf.filter, req, ctx);
  if (outcome === 'ok') return undefined;
  return {
    status: 401,
    headers: { 'www-authenticate': 'Bearer realm="waypoint"' },
    body: outcome === 'missing' ? 'Jwt is missing' : 'Jwt verification fails',
  };
}

// ---- basic auth, CORS, rate limit ----------------------------------------------------------

function basicAuth(users: ReadonlyMap<string, string>, ctx: FilterContext): LocalReply | undefined {
  const h = headerValue(ctx.req.headers, 'authorization') ?? '';
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(h);
  const deny = (body: string): LocalReply => ({
    status: 401,
    headers: { 'www-authenticate': 'Basic realm="waypoint"' },
    body,
  });
  if (!m) return deny('User authentication failed. Missing username and password.');
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  const want = users.get(decoded.slice(0, i));
  const got = createHash('sha1')
    .update(decoded.slice(i + 1))
    .digest('base64');
  if (
    i < 0 ||
    !want ||
    want.length !== got.length ||
    !timingSafeEqual(Buffer.from(want), Buffer.from(got))
  )
    return deny('User authentication failed. Invalid username/password combination.');
  return undefined;
}

function cors(p: CorsPolicy, ctx: FilterContext): LocalReply | undefined {
  const origin = headerValue(ctx.req.headers, 'origin');
  if (!origin || !p.origins.some((m) => matchStr(m, origin))) return undefined;
  const h: Headers = { 'access-control-allow-origin': origin };
  if (p.credentials) h['access-control-allow-credentials'] = 'true';
  const preflight =
    ctx.req.method === 'OPTIONS' && headerValue(ctx.req.headers, 'access-control-request-method');
  if (preflight) {
    if (p.methods) h['access-control-allow-methods'] = p.methods;
    if (p.headers) h['access-control-allow-headers'] = p.headers;
    if (p.maxAge) h['access-control-max-age'] = p.maxAge;
    return { status: 200, headers: h, body: '' };
  }
  if (p.expose) h['access-control-expose-headers'] = p.expose;
  Object.assign(ctx.responseHeaders, h);
  return undefined;
}

// ---- RBAC -------------------------------------------------------------------------------------

function permits(p: RbacPermission, ctx: FilterContext): boolean {
  switch (p.kind) {
    case 'any':
      return true;
    case 'and':
      return p.of.every((x) => permits(x, ctx));
    case 'or':
      return p.of.some((x) => permits(x, ctx));
    case 'not':
      return !permits(p.of, ctx);
    case 'header':
      return matchHeader(p.header, ctx.req);
    case 'path':
      return matchStr(p.match, ctx.req.path);
    case 'destinationPort':
      return p.port === ctx.destinationPort;
    case 'destinationIp':
      return inCidr(ctx.destinationIp, p.cidr);
  }
}

function claim(ctx: FilterContext, filter: string, path: readonly string[]): unknown {
  let v: unknown = ctx.metadata.get(filter);
  for (const k of path)
    v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

function identifies(p: RbacPrincipal, ctx: FilterContext): boolean {
  switch (p.kind) {
    case 'any':
      return true;
    case 'and':
      return p.of.every((x) => identifies(x, ctx));
    case 'or':
      return p.of.some((x) => identifies(x, ctx));
    case 'not':
      return !identifies(p.of, ctx);
    case 'authenticated':
      return (
        !!ctx.peer &&
        (!p.match ||
          matchStr(p.match, ctx.peer) ||
          matchStr(p.match, ctx.peer.replace(/^spiffe:\/\//, '')))
      );
    case 'sourceIp':
      return inCidr(ctx.sourceIp, p.cidr);
    case 'header':
      return matchHeader(p.header, ctx.req);
    case 'path':
      return matchStr(p.match, ctx.req.path);
    case 'metadata': {
      const v = claim(ctx, p.filter, p.path);
      const values = Array.isArray(v) ? v : v === undefined ? [] : [v];
      const hit = p.match
        ? values.some((x) => matchStr(p.match!, typeof x === 'string' ? x : JSON.stringify(x)))
        : values.length > 0;
      return hit !== p.invert;
    }
  }
}

export function rbacAllows(rules: RbacRules, ctx: FilterContext): boolean {
  const matched = rules.policies.some(
    (pol) =>
      pol.permissions.some((x) => permits(x, ctx)) &&
      pol.principals.some((x) => identifies(x, ctx)),
  );
  if (rules.action === 'ALLOW') return matched;
  if (rules.action === 'DENY') return !matched;
  return true;
}

/** Run the chain; a LocalReply ends the request here. */
export async function runFilters(
  listener: string,
  filters: readonly NamedFilter[],
  route: Route,
  vh: VirtualHost,
  ctx: FilterContext,
  limiter: RateLimiter,
): Promise<LocalReply | undefined> {
  for (const nf of filters) {
    const o = override(nf.name, route, vh);
    if (o?.kind === 'disabled') continue;
    const f = nf.filter;
    let reply: LocalReply | undefined;
    switch (f.kind) {
      case 'jwt':
        reply = await jwt({ ...nf, filter: f }, route, vh, ctx);
        break;
      case 'basicAuth': {
        const users = o?.kind === 'basicAuth' ? o.users : nf.disabled ? undefined : f.users;
        if (users) reply = basicAuth(users, ctx);
        break;
      }
      case 'cors':
        if (o?.kind === 'cors') reply = cors(o.policy, ctx);
        break;
      case 'rateLimit': {
        const bucket = o?.kind === 'rateLimit' ? o.bucket : nf.disabled ? undefined : f.bucket;
        const key = o?.kind === 'rateLimit' ? `${listener}|${vh.name}|${route.name}` : listener;
        if (bucket && !limiter.take(key, bucket))
          reply = {
            status: bucket.status,
            headers: { 'x-local-rate-limit': 'true' },
            body: 'local_rate_limited',
          };
        break;
      }
      case 'rbac': {
        const rules = o?.kind === 'rbac' ? o.rules : nf.disabled ? undefined : f.rules;
        if (rules && !rbacAllows(rules, ctx)) reply = { status: 403, body: 'RBAC: access denied' };
        break;
      }
    }
    if (reply) return reply;
  }
  return undefined;
}
