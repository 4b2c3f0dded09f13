import { createHash } from 'node:crypto';
import type { Json, JsonObject } from './envelope.js';

/**
 * Namespace used for cluster-scoped kinds (Namespace, GatewayClass): the store's stream name and
 * the envelope check need a non-empty namespace token.
 */
export const CLUSTER_SCOPE = '_';

/** What a source saw: one object, already reduced to what the control plane cares about. */
export interface ObservedResource {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** The object without status and server-managed metadata (see normalizeObject). */
  readonly spec: JsonObject;
  /** Kubernetes resourceVersion, or the manifest's metadata.generation when it has one. */
  readonly resourceVersion?: string;
}

export interface ResourceRef {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

/** What the agent last reported for one resource: the content hash and version it published. */
export interface LedgerEntry {
  readonly hash: string;
  readonly resourceVersion?: string;
}

export type Ledger = Map<string, LedgerEntry>;

export function resourceKey(r: ResourceRef): string {
  return `${r.kind}/${r.namespace}/${r.name}`;
}

export function parseResourceKey(key: string): ResourceRef {
  const [kind = '', namespace = '', ...rest] = key.split('/');
  return { kind, namespace, name: rest.join('/') };
}

/** JSON with object keys sorted, so equal content always hashes equally. */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value)
    .filter((k) => value[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`).join(',')}}`;
}

/**
 * The hash of what would be published. resourceVersion is left out on purpose: Kubernetes bumps
 * it for status-only writes, which must not turn into events.
 */
export function contentHash(r: ObservedResource): string {
  return createHash('sha256')
    .update(canonicalJson({ kind: r.kind, namespace: r.namespace, name: r.name, spec: r.spec }))
    .digest('hex');
}

const DROPPED_METADATA = [
  'resourceVersion',
  'uid',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
  'ownerReferences',
  'finalizers',
];
const DROPPED_ANNOTATIONS = ['kubectl.kubernetes.io/last-applied-configuration'];

/**
 * Reduce a Kubernetes-style object to its desired content: no status, no server-managed metadata,
 * so that controller status writes and re-lists never produce no-op events.
 */
export function normalizeObject(obj: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'status' || v === undefined) continue;
    if (k === 'metadata' && v !== null && typeof v === 'object') {
      const meta: JsonObject = {};
      for (const [mk, mv] of Object.entries(v as Record<string, unknown>)) {
        if (DROPPED_METADATA.includes(mk) || mv === undefined) continue;
        if (mk === 'annotations' && mv !== null && typeof mv === 'object') {
          const ann = Object.fromEntries(
            Object.entries(mv as Record<string, string>).filter(
              ([a]) => !DROPPED_ANNOTATIONS.includes(a),
            ),
          );
          if (Object.keys(ann).length > 0) meta.annotations = ann;
          continue;
        }
        meta[mk] = toJson(mv);
      }
      out.metadata = meta;
      continue;
    }
    out[k] = toJson(v);
  }
  return out;
}

function toJson(v: unknown): Json {
  return JSON.parse(JSON.stringify(v ?? null)) as Json;
}
