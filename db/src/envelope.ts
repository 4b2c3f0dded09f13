import { v7 as uuidv7 } from 'uuid';
import type { Json, JsonObject } from './canonical.js';

/** Who and what produced an event (DESIGN.md §3). */
export interface EventMetadata {
  /** Identity of the caller: an agent's cluster identity, an operator's user, a Shoal service. */
  readonly actor: string;
  /** The component that observed or decided the change, e.g. `agent/kube-watch`, `api`. */
  readonly source: string;
  /** Cluster the event belongs to; ingest checks it against the subject it arrived on. */
  readonly cluster: string;
  readonly correlationId?: string;
  readonly causationId?: string;
  /** When the source observed the change (ISO 8601); the store adds its own recorded time. */
  readonly observedAt: string;
  readonly [extra: string]: Json | undefined;
}

/** An event as producers publish it and as it is appended. */
export interface EventEnvelope<D extends JsonObject = JsonObject> {
  /** UUIDv7; also the JetStream `Nats-Msg-Id`, and the store's idempotency key. */
  readonly id: string;
  readonly stream: string;
  /** Past tense: `ResourceUpserted`. */
  readonly type: string;
  readonly data: D;
  readonly metadata: EventMetadata;
  readonly schemaVersion: number;
}

export function newEventId(): string {
  return uuidv7();
}

/** Stream of one mesh resource: `resource/<cluster>/<kind>/<namespace>/<name>`. */
export function resourceStream(r: {
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
}): string {
  return `resource/${r.cluster}/${r.kind}/${r.namespace}/${r.name}`;
}

export interface ResourceUpsertedData extends JsonObject {
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
  spec: JsonObject;
}
export interface ResourceDeletedData extends JsonObject {
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
}

/** What ingest accepts: each known type, its schema versions, and a check of its data. */
export interface EventTypeSpec {
  readonly schemaVersions: readonly number[];
  /** Returns a problem (field path and reason) or undefined when the data is acceptable. */
  readonly check?: (data: JsonObject, stream: string) => string | undefined;
}

function checkResourceKey(data: JsonObject, stream: string): string | undefined {
  for (const f of ['cluster', 'kind', 'namespace', 'name'] as const) {
    const v = data[f];
    if (typeof v !== 'string' || v.length === 0) return `data.${f}: expected a non-empty string`;
  }
  const want = resourceStream(data as ResourceDeletedData);
  if (stream !== want) return `stream: expected "${want}" for this resource, got "${stream}"`;
  return undefined;
}

const anyData: EventTypeSpec = { schemaVersions: [1] };

export const eventCatalog: Readonly<Record<string, EventTypeSpec>> = {
  ResourceUpserted: {
    schemaVersions: [1],
    check: (data, stream) => {
      const spec = data.spec;
      if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
        return 'data.spec: expected an object';
      }
      const rv = data.resourceVersion;
      if (rv !== undefined && typeof rv !== 'string')
        return 'data.resourceVersion: expected a string';
      return checkResourceKey(data, stream);
    },
  },
  ResourceDeleted: { schemaVersions: [1], check: checkResourceKey },
  ConfigVersionCompiled: anyData,
  ConfigVersionAssigned: anyData,
  NodeConfigAcked: anyData,
  NodeConfigRejected: anyData,
  RolloutStarted: anyData,
  RolloutWaveCompleted: anyData,
  RolloutRolledBack: anyData,
  RolloutWaveStarted: anyData,
  RolloutGateFailed: anyData,
  RolloutCompleted: anyData,
  RolloutPaused: anyData,
  RolloutResumed: anyData,
  RolloutWaveApproved: anyData,
  RolloutAborted: anyData,
  RolloutSuperseded: anyData,
  ClusterRegistered: anyData,
  ClusterHeartbeat: anyData,
  ApiTokenIssued: anyData,
  ApiTokenRevoked: anyData,
  RolloutEdgeSitePending: anyData,
  RolloutEdgeSiteCaughtUp: anyData,
  RolloutEdgeSiteRejected: anyData,
  RolloutEdgeCatchUpEnded: anyData,
  RolloutAbortRequested: anyData,
  RolloutCompensationFailed: anyData,
  RolloutPlanRejected: anyData,
};

export type EnvelopeProblem =
  | { readonly reason: 'invalid-envelope'; readonly detail: string }
  | { readonly reason: 'unknown-type'; readonly detail: string }
  | { readonly reason: 'unsupported-schema-version'; readonly detail: string };

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TYPE = /^[A-Z][A-Za-z0-9]{2,127}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Check a parsed message against the envelope shape and the catalog. Pure: the first problem
 * found is returned with the field path, so a dead-lettered event says exactly what was wrong.
 */
export function validateEnvelope(
  value: unknown,
  catalog: Readonly<Record<string, EventTypeSpec>> = eventCatalog,
): { ok: true; envelope: EventEnvelope } | ({ ok: false } & EnvelopeProblem) {
  const bad = (detail: string) => ({
    ok: false as const,
    reason: 'invalid-envelope' as const,
    detail,
  });
  if (!isObject(value)) return bad('the event must be a JSON object');
  const { id, stream, type, data, metadata, schemaVersion } = value;
  if (typeof id !== 'string' || !UUID_V7.test(id)) return bad('id: expected a lowercase UUIDv7');
  if (typeof stream !== 'string' || stream.length === 0 || stream.length > 512) {
    return bad('stream: expected a string of 1-512 characters');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(stream)) return bad('stream: control characters are not allowed');
  if (typeof type !== 'string' || !TYPE.test(type)) {
    return bad('type: expected a PascalCase event name in past tense, e.g. ResourceUpserted');
  }
  if (!Number.isInteger(schemaVersion) || (schemaVersion as number) < 1) {
    return bad('schemaVersion: expected a positive integer');
  }
  if (!isObject(data)) return bad('data: expected an object');
  if (!isObject(metadata)) return bad('metadata: expected an object');
  for (const f of ['actor', 'source', 'cluster'] as const) {
    const v = metadata[f];
    if (typeof v !== 'string' || v.length === 0)
      return bad(`metadata.${f}: expected a non-empty string`);
  }
  for (const f of ['correlationId', 'causationId'] as const) {
    const v = metadata[f];
    if (v !== undefined && typeof v !== 'string') return bad(`metadata.${f}: expected a string`);
  }
  if (typeof metadata.observedAt !== 'string' || !ISO_TIME.test(metadata.observedAt)) {
    return bad('metadata.observedAt: expected an ISO 8601 timestamp');
  }
  const spec = catalog[type];
  if (!spec) {
    return {
      ok: false,
      reason: 'unknown-type',
      detail: `type: "${type}" is not a known event type`,
    };
  }
  if (!spec.schemaVersions.includes(schemaVersion as number)) {
    return {
      ok: false,
      reason: 'unsupported-schema-version',
      detail: `schemaVersion: ${String(schemaVersion)} of ${type} is not supported (supported: ${spec.schemaVersions.join(', ')})`,
    };
  }
  const problem = spec.check?.(data as JsonObject, stream);
  if (problem) return bad(problem);
  return { ok: true, envelope: value as unknown as EventEnvelope };
}
