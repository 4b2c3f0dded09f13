/**
 * Small decoders shared by the L7 compilers: protobufjs `toObject` output (camelCase, enums as
 * strings, 64-bit as strings, Any as {type_url, value}) → model values. Each throws a plain
 * Error with a field path; the caller wraps it in a ConfigRejectedError naming the resource.
 */
import { decodeMessage } from '@shoal/proto';
import type { Cidr } from '../l4/model.js';
import type { HeaderMatcher, HeaderMods, RouteMatch, StrMatcher } from './model.js';

export type Raw = Record<string, unknown>;
export const arr = <T = Raw>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
export const obj = (v: unknown): Raw | undefined =>
  v && typeof v === 'object' && !ArrayBuffer.isView(v) ? (v as Raw) : undefined;

/** Path-prefixed error, so a NACK says which field was wrong. */
export function at<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Decode a google.protobuf.Any; returns its short type name and the message. */
export function unpackAny(v: unknown): { type: string; msg: Raw } | undefined {
  const a = obj(v);
  if (!a) return undefined;
  const url = String(a.type_url ?? a.typeUrl ?? '');
  if (!url) return undefined;
  const bytes = a.value instanceof Uint8Array ? a.value : new Uint8Array();
  let msg: Raw;
  try {
    msg = decodeMessage(url, bytes);
  } catch (err) {
    throw new Error(`cannot decode ${url}: ${(err as Error).message}`, { cause: err });
  }
  return { type: url.slice(url.lastIndexOf('/') + 1), msg };
}

export function durationMs(v: unknown): number | undefined {
  const d = obj(v);
  if (!d) return undefined;
  return Number(d.seconds ?? 0) * 1000 + Math.round(Number(d.nanos ?? 0) / 1e6);
}

export function u32(v: unknown): number | undefined {
  const w = obj(v);
  return w ? Number(w.value ?? 0) : undefined;
}

/** RE2 is a subset of JS regex for what configs use; anchored like Envoy's full match. */
export function regex(pattern: unknown, flags = '', anchored = true): RegExp {
  if (typeof pattern !== 'string' || pattern === '') throw new Error('empty regex');
  try {
    return new RegExp(anchored ? `^(?:${pattern})$` : pattern, flags);
  } catch (err) {
    throw new Error(`invalid regex ${JSON.stringify(pattern)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export function strMatcher(raw: unknown): StrMatcher {
  const m = obj(raw);
  if (!m) throw new Error('missing string matcher');
  const ignoreCase = m.ignoreCase === true;
  if (typeof m.exact === 'string') return { kind: 'exact', value: m.exact, ignoreCase };
  if (typeof m.prefix === 'string') return { kind: 'prefix', value: m.prefix, ignoreCase };
  if (typeof m.suffix === 'string') return { kind: 'suffix', value: m.suffix, ignoreCase };
  if (typeof m.contains === 'string') return { kind: 'contains', value: m.contains, ignoreCase };
  const sr = obj(m.safeRegex);
  if (sr) return { kind: 'regex', re: regex(sr.regex, ignoreCase ? 'i' : '') };
  throw new Error('string matcher has none of exact, prefix, suffix, contains, safeRegex');
}

export function headerMatcher(raw: Raw): HeaderMatcher {
  const name = String(raw.name ?? '').toLowerCase();
  if (!name) throw new Error('header matcher without a name');
  const invert = raw.invertMatch === true;
  if (raw.stringMatch) return { name, match: strMatcher(raw.stringMatch), invert };
  if (typeof raw.exactMatch === 'string')
    return { name, match: { kind: 'exact', value: raw.exactMatch, ignoreCase: false }, invert };
  if (typeof raw.prefixMatch === 'string')
    return { name, match: { kind: 'prefix', value: raw.prefixMatch, ignoreCase: false }, invert };
  if (typeof raw.suffixMatch === 'string')
    return { name, match: { kind: 'suffix', value: raw.suffixMatch, ignoreCase: false }, invert };
  const sr = obj(raw.safeRegexMatch);
  if (sr) return { name, match: { kind: 'regex', re: regex(sr.regex) }, invert };
  if (raw.presentMatch !== undefined) return { name, present: raw.presentMatch === true, invert };
  if (raw.rangeMatch) throw new Error(`header ${name}: range_match is not supported`);
  return { name, present: true, invert };
}

export function routeMatch(raw: Raw): RouteMatch {
  // A BoolValue wrapper: absent means true (Envoy's default); present, its value (false is not
  // written on the wire, so a decoded `{}` means false).
  const cs = obj(raw.caseSensitive);
  const caseSensitive = cs ? cs.value === true : true;
  let path: RouteMatch['path'];
  if (typeof raw.prefix === 'string') path = { kind: 'prefix', value: raw.prefix };
  else if (typeof raw.path === 'string') path = { kind: 'exact', value: raw.path };
  else if (obj(raw.safeRegex))
    path = {
      kind: 'regex',
      re: at('safeRegex', () => regex(obj(raw.safeRegex)!.regex, caseSensitive ? '' : 'i')),
    };
  else if (typeof raw.pathSeparatedPrefix === 'string')
    path = { kind: 'separated', value: raw.pathSeparatedPrefix };
  else if (raw.connectMatcher) throw new Error('connect_matcher is not supported');
  else path = { kind: 'prefix', value: '/' };
  return {
    path,
    caseSensitive,
    headers: arr(raw.headers).map((h, i) => at(`headers[${i}]`, () => headerMatcher(h))),
    query: arr(raw.queryParameters).map((q, i) =>
      at(`queryParameters[${i}]`, () => {
        const name = String(q.name ?? '');
        if (!name) throw new Error('query parameter matcher without a name');
        return q.stringMatch ? { name, match: strMatcher(q.stringMatch) } : { name };
      }),
    ),
    grpc: raw.grpc !== undefined,
  };
}

const APPEND_ACTIONS: Record<string, HeaderMods['add'][number]['action']> = {
  APPEND_IF_EXISTS_OR_ADD: 'append',
  ADD_IF_ABSENT: 'addIfAbsent',
  OVERWRITE_IF_EXISTS_OR_ADD: 'overwrite',
  OVERWRITE_IF_EXISTS: 'overwriteIfExists',
};

export function headerMods(add: unknown, remove: unknown): HeaderMods {
  return {
    add: arr(add).map((o, i) =>
      at(`headersToAdd[${i}]`, () => {
        const h = obj(o.header);
        const key = String(h?.key ?? '').toLowerCase();
        if (!key) throw new Error('header without a key');
        if (key.startsWith(':') || key === 'host')
          throw new Error(`may not modify ${key} (use a rewrite)`);
        const legacy = obj(o.append);
        const action =
          o.appendAction !== undefined
            ? APPEND_ACTIONS[String(o.appendAction)]
            : legacy && legacy.value === false
              ? 'overwrite'
              : 'append';
        if (!action) throw new Error(`unknown append_action ${String(o.appendAction)}`);
        return { key, value: String(h?.value ?? ''), action };
      }),
    ),
    remove: arr<string>(remove).map((s) => s.toLowerCase()),
  };
}

export function cidr(raw: unknown): Cidr {
  const c = obj(raw);
  const ip = String(c?.addressPrefix ?? '');
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip) && !ip.includes(':'))
    throw new Error(`invalid CIDR address ${JSON.stringify(ip)}`);
  const length = u32(c?.prefixLen) ?? (ip.includes(':') ? 128 : 32);
  if (length < 0 || length > (ip.includes(':') ? 128 : 32))
    throw new Error(`invalid prefix length ${length}`);
  return { ip, length };
}
