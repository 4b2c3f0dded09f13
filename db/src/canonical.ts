import * as crypto from 'node:crypto';

/** A JSON value as stored in jsonb columns. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/**
 * Canonical JSON: object keys sorted by UTF-16 code unit, no whitespace, `undefined` members
 * dropped. Hashes are computed over this text, so the same event always hashes the same way
 * no matter how jsonb reordered its keys on the way back from PostgreSQL.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot encode ${value} as JSON`);
      return JSON.stringify(value);
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return arrayJson(value);
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      return objectJson(value as Record<string, unknown>);
    case 'bigint':
      throw new TypeError('cannot encode a bigint as JSON');
    default:
      throw new TypeError(`cannot encode ${typeof value} as JSON`);
  }
}

// Ingest encodes every event it stores, so the two helpers below build their text by plain
// concatenation (V8 joins the pieces once, when the text is used) and sort keys without
// Array.prototype.sort, whose scratch allocations cost more than the sorting for a few keys.

function arrayJson(items: readonly unknown[]): string {
  let out = '[';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ',';
    out += canonicalJson(items[i] ?? null);
  }
  return `${out}]`;
}

function objectJson(obj: Record<string, unknown>): string {
  const keys = Object.keys(obj);
  sortKeys(keys);
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = obj[key];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${quotedKey(key)}${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

// Events of one kind repeat the same few keys: their quoted forms are kept (a bounded cache).
const quotedKeys = new Map<string, string>();

/** `"key":` */
function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    if (quotedKeys.size >= 4096) quotedKeys.clear();
    quoted = `${JSON.stringify(key)}:`;
    quotedKeys.set(key, quoted);
  }
  return quoted;
}

/** Sort in place by UTF-16 code units, the order of Array.prototype.sort() on strings. */
function sortKeys(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && keys[j]! > key; j--) keys[j + 1] = keys[j]!;
    keys[j + 1] = key;
  }
}

export function sha256Hex(text: string): string {
  // crypto.hash (Node 20.12+) hashes in one call, without a Hash object per event.
  return typeof crypto.hash === 'function'
    ? crypto.hash('sha256', text, 'hex')
    : crypto.createHash('sha256').update(text).digest('hex');
}

/** The previous hash of the first event of every stream (and of the first seal). */
export const GENESIS_HASH = '0'.repeat(64);
