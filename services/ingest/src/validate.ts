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
  const tokens = msg.subject.split('.');
  if (tokens.length !== 4 || tokens[0] !== 'shoal' || tokens[1] !== 'ev') {
    return {
      ok: false,
      reason: 'bad-subject',
      detail: `subject "${msg.subject}" is not shoal.ev.<cluster>.<kind>`,
    };
  }
  const cluster = tokens[2]!;
  let value: unknown;
  try {
    const text = utf8.decode(msg.data);
    // PostgreSQL's jsonb cannot hold U+0000; refuse it here rather than fail a whole batch later.
    if (text.includes('\\u0000')) {
      return {
        ok: false,
        reason: 'invalid-envelope',
        detail: 'the event contains a NUL character (\\u0000), which cannot be stored',
      };
    }
    value = JSON.parse(text);
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
