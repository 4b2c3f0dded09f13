/**
 * A small schema language for Kubernetes-style objects: enough to check types, enums, formats
 * and required fields, and to say exactly where a value is wrong (a field path). Cross-field
 * rules go in `check` callbacks. Every problem is collected; validation never stops early.
 */

export type PathSegment = string | number;
export type FieldPath = readonly PathSegment[];

export interface SchemaIssue {
  readonly path: FieldPath;
  readonly reason: string;
}

export type Report = (path: FieldPath, reason: string) => void;

type Check = (value: never, path: FieldPath, report: Report) => void;

export type Schema =
  | {
      readonly t: 'string';
      readonly enum?: readonly string[];
      readonly format?: Format;
      readonly check?: Check;
    }
  | { readonly t: 'int'; readonly min?: number; readonly max?: number }
  | { readonly t: 'number'; readonly min?: number; readonly max?: number }
  | { readonly t: 'bool' }
  | { readonly t: 'any' }
  | { readonly t: 'intOrString' }
  | {
      readonly t: 'array';
      readonly of: Schema;
      readonly min?: number;
      readonly max?: number;
      readonly check?: Check;
    }
  | { readonly t: 'map'; readonly of: Schema }
  | {
      readonly t: 'object';
      readonly fields: Readonly<Record<string, Field>>;
      /** Unknown fields are accepted (objects whose upstream schema Shoal does not model in full). */
      readonly open?: boolean;
      readonly check?: Check;
    };

export interface Field {
  readonly schema: Schema;
  readonly required?: boolean;
}

export type Format = 'duration' | 'ip' | 'cidr' | 'hostname' | 'dnsLabel' | 'path' | 'regex';

// ---- builders ----
export const str = (
  opts: { enum?: readonly string[]; format?: Format; check?: Check } = {},
): Schema => ({
  t: 'string',
  ...opts,
});
export const oneOfStr = (...values: string[]): Schema => ({ t: 'string', enum: values });
export const int = (min?: number, max?: number): Schema => ({ t: 'int', min, max });
export const num = (min?: number, max?: number): Schema => ({ t: 'number', min, max });
export const bool: Schema = { t: 'bool' };
export const any: Schema = { t: 'any' };
export const intOrString: Schema = { t: 'intOrString' };
export const arr = (
  of: Schema,
  opts: { min?: number; max?: number; check?: Check } = {},
): Schema => ({
  t: 'array',
  of,
  ...opts,
});
export const map = (of: Schema): Schema => ({ t: 'map', of });
export const obj = (
  fields: Record<string, Schema | Field>,
  opts: { open?: boolean; check?: Check } = {},
): Schema => ({
  t: 'object',
  fields: Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [k, 't' in v ? { schema: v } : v]),
  ),
  ...opts,
});
export const req = (schema: Schema): Field => ({ schema, required: true });

/** A typed cross-field check (the cast keeps builder call sites free of casts). */
export function check<T>(fn: (value: T, path: FieldPath, report: Report) => void): Check {
  return fn as unknown as Check;
}

// ---- formats ----
const DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}
export function isIPv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return false;
  const parts = s.split('::');
  if (parts.length > 2) return false;
  const groups = parts.flatMap((p) => (p === '' ? [] : p.split(':')));
  const hasV4 = groups.length > 0 && isIPv4(groups[groups.length - 1]!);
  const hex = hasV4 ? groups.slice(0, -1) : groups;
  if (!hex.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  const n = hex.length + (hasV4 ? 2 : 0);
  return parts.length === 2 ? n < 8 : n === 8;
}
export function isIP(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}

function formatProblem(format: Format, v: string): string | undefined {
  switch (format) {
    case 'duration':
      return DURATION.test(v)
        ? undefined
        : `"${v}" is not a duration (use e.g. "500ms", "30s", "5m", "1h30m")`;
    case 'ip':
      return isIP(v) ? undefined : `"${v}" is not an IPv4 or IPv6 address`;
    case 'cidr': {
      const [ip, len, extra] = v.split('/');
      const max = ip && isIPv4(ip) ? 32 : 128;
      const ok =
        ip !== undefined &&
        isIP(ip) &&
        extra === undefined &&
        (len === undefined || (/^\d+$/.test(len) && Number(len) <= max));
      return ok ? undefined : `"${v}" is not a CIDR (use e.g. "10.0.0.0/8" or "192.168.1.7")`;
    }
    case 'hostname':
      return v.length <= 253 && HOSTNAME.test(v)
        ? undefined
        : `"${v}" is not a valid hostname (lowercase DNS name, optionally starting with "*.")`;
    case 'dnsLabel':
      return v.length <= 63 && DNS_LABEL.test(v)
        ? undefined
        : `"${v}" is not a valid name (lowercase letters, digits and "-", at most 63 characters)`;
    case 'path':
      return v.startsWith('/') ? undefined : `"${v}" must start with "/"`;
    case 'regex':
      try {
        new RegExp(v);
        return undefined;
      } catch (e) {
        return `"${v}" is not a valid regular expression: ${(e as Error).message}`;
      }
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** Check `value` against `schema`, reporting every problem under `path`. */
export function validate(schema: Schema, value: unknown, path: FieldPath, report: Report): void {
  switch (schema.t) {
    case 'any':
      return;
    case 'string':
      if (typeof value !== 'string')
        return report(path, `expected a string, got ${typeName(value)}`);
      if (schema.enum && !schema.enum.includes(value))
        return report(
          path,
          `"${value}" is not one of ${schema.enum.map((e) => `"${e}"`).join(', ')}`,
        );
      if (schema.format) {
        const p = formatProblem(schema.format, value);
        if (p) return report(path, p);
      }
      schema.check?.(value as never, path, report);
      return;
    case 'int':
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value))
        return report(
          path,
          `expected ${schema.t === 'int' ? 'an integer' : 'a number'}, got ${typeName(value)}`,
        );
      if (schema.t === 'int' && !Number.isInteger(value))
        return report(path, `expected an integer, got ${value}`);
      if (schema.min !== undefined && value < schema.min)
        return report(path, `${value} is below the minimum ${schema.min}`);
      if (schema.max !== undefined && value > schema.max)
        return report(path, `${value} is above the maximum ${schema.max}`);
      return;
    case 'bool':
      if (typeof value !== 'boolean')
        report(path, `expected true or false, got ${typeName(value)}`);
      return;
    case 'intOrString':
      if (typeof value === 'string' ? value === '' : !Number.isInteger(value))
        report(path, `expected an integer or a non-empty string, got ${typeName(value)}`);
      return;
    case 'array':
      if (!Array.isArray(value)) return report(path, `expected a list, got ${typeName(value)}`);
      if (schema.min !== undefined && value.length < schema.min)
        report(path, `needs at least ${schema.min} item${schema.min === 1 ? '' : 's'}`);
      if (schema.max !== undefined && value.length > schema.max)
        report(path, `has more than ${schema.max} items`);
      value.forEach((item, i) => validate(schema.of, item, [...path, i], report));
      schema.check?.(value as never, path, report);
      return;
    case 'map':
      if (!isPlainObject(value)) return report(path, `expected a map, got ${typeName(value)}`);
      for (const [k, v] of Object.entries(value)) validate(schema.of, v, [...path, k], report);
      return;
    case 'object': {
      if (!isPlainObject(value)) return report(path, `expected an object, got ${typeName(value)}`);
      for (const [name, field] of Object.entries(schema.fields)) {
        const v = value[name];
        if (v === undefined || v === null) {
          if (field.required) report([...path, name], 'is required');
          continue;
        }
        validate(field.schema, v, [...path, name], report);
      }
      if (!schema.open) {
        for (const name of Object.keys(value)) {
          if (!(name in schema.fields))
            report([...path, name], unknownField(name, Object.keys(schema.fields)));
        }
      }
      schema.check?.(value as never, path, report);
      return;
    }
  }
}

function unknownField(name: string, known: string[]): string {
  const near = known.find(
    (k) => k.toLowerCase() === name.toLowerCase() || editDistance(k, name) <= 2,
  );
  return `unknown field "${name}"${near ? ` (did you mean "${near}"?)` : ''}`;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(
        d[i - 1]![j]! + 1,
        d[i]![j - 1]! + 1,
        d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
  return d[a.length]![b.length]!;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** "spec.rules[0].matches[1].path" */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
