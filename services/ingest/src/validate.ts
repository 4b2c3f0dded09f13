import { validateEnvelope, type EventEnvelope } from '@shoal/db';

/** Why a message went to the dead-letter stream; also the last token of its DLQ subject. */
export type DeadLetterReason =
  | 'too-large'
  | 'bad-subject'
  | 'malformed-json'
  | 'invalid-envelope'
  | 'unknown-type'
  | 'unsupported-schema-version'
  | 'cluster-mismatch'
  | 'event-id-conflict';

export type Checked =
  | { readonly ok: true; readonly envelope: EventEnvelope }
  | { readonly ok: false; readonly reason: DeadLetterReason; readonly detail: string };

export interface IncomingMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** The Nats-Msg-Id header, when the publisher set one. */
  readonly msgId?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** The first \u0000 or surrogate (\uD800-\uDFFF) escape. */
const AWKWARD_ESCAPE = /\\u(0000|[dD][89a-fA-F])/;
const LONE_SURROGATE = /\p{Cs}/u;

/** The <cluster> of `shoal.ev.<cluster>.<kind>`, else undefined (split('.') without its arrays). */
function clusterOf(subject: string): string | undefined {
  const prefix = 'shoal.ev.';
  if (!subject.startsWith(prefix)) return undefined;
  const dot = subject.indexOf('.', prefix.length);
  if (dot === -1 || subject.includes('.', dot + 1)) return undefined;
  return subject.slice(prefix.length, dot);
}

function hasLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value);
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(hasLoneSurrogate);
  return Object.entries(value).some(([k, v]) => LONE_SURROGATE.test(k) || hasLoneSurrogate(v));
}

/**
 * Decide whether one message from `shoal.ev.<cluster>.<kind>` may be appended. Pure, so every
 * rejection reason is unit-tested; the detail names the field and what was expected.
 */
export function checkMessage(msg: IncomingMessage, limits: { maxEventBytes: number }): Checked {
  if (msg.data.length > limits.maxEventBytes) {
    return {
      ok: false,
      reason: 'too-large',
      detail: `the event is ${msg.data.length} bytes; the limit is ${limits.maxEventBytes} (split it, or raise INGEST_MAX_EVENT_BYTES)`,
    };
  }
  const cluster = clusterOf(msg.subject);
  if (cluster === undefined) {
    return {
      ok: false,
      reason: 'bad-subject',
      detail: `subject "${msg.subject}" is not shoal.ev.<cluster>.<kind>`,
    };
  }
  let value: unknown;
  try {
    const text = utf8.decode(msg.data);
    // PostgreSQL's jsonb cannot hold U+0000, nor a lone UTF-16 surrogate (which JSON.parse
    // accepts from a \uD800-style escape): refuse them here rather than fail a whole batch
    // later. Both can only come from escapes, so one look at the text finds every candidate.
    const escape = AWKWARD_ESCAPE.exec(text)?.[1];
    if (escape === '0000' || (escape !== undefined && text.includes('\\u0000'))) {
      return {
        ok: false,
        reason: 'invalid-envelope',
        detail: 'the event contains a NUL character (\\u0000), which cannot be stored',
      };
    }
    value = JSON.parse(text);
    if (escape !== undefined && hasLoneSurrogate(value)) {
      return {
        ok: false,
        reason: 'invalid-envelope',
        detail:
          'the event contains a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which cannot be stored',
      };
    }
  } catch (err) {
    return {
      ok: false,
      reason: 'malformed-json',
      detail: `not valid UTF-8 JSON: ${(err as Error).message}`,
    };
  }
  const v = validateEnvelope(value);
  if (!v.ok) return { ok: false, reason: v.reason, detail: v.detail };
  const e = v.envelope;
  if (msg.msgId !== undefined && msg.msgId !== e.id) {
    return {
      ok: false,
      reason: 'invalid-envelope',
      detail: `the Nats-Msg-Id header "${msg.msgId}" must equal the event id ${e.id} (JetStream de-duplicates on it)`,
    };
  }
  if (e.metadata.cluster !== cluster) {
    return {
      ok: false,
      reason: 'cluster-mismatch',
      detail: `metadata.cluster "${e.metadata.cluster}" may not be written to subject ${msg.subject} of cluster "${cluster}"`,
    };
  }
  if (typeof e.data.cluster === 'string' && e.data.cluster !== cluster) {
    return {
      ok: false,
      reason: 'cluster-mismatch',
      detail: `data.cluster "${e.data.cluster}" may not be written to subject ${msg.subject} of cluster "${cluster}"`,
    };
  }
  return { ok: true, envelope: e };
}
