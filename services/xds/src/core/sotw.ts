/**
 * The state-of-the-world ADS protocol for one stream, as a pure state machine: requests and
 * snapshots in, responses and ACK/NACK events out. No I/O, no clock except the `now` passed in.
 *
 * Rules (Envoy xds_protocol): a nonce per response; a request whose nonce is not the latest one
 * of its type is stale and ignored; ACK/NACK is told apart by error_detail, and a NACK keeps the
 * previous version as the one the client runs; only Listener and Cluster may be wildcard and
 * their responses carry the full set; named resources that do not exist yet are remembered and
 * sent when they appear; a change goes out in make-before-break order (CDS, EDS, LDS, RDS) and
 * the removal of listeners or clusters goes last; nothing is sent when nothing changed.
 */
import { WILDCARD_TYPES, type XdsResource } from '@shoal/proto';
import { listOf, pick, resourcesOf, type Snapshot } from './snapshot.js';
import {
  Nonces,
  pushOrder,
  type ErrorDetail,
  type SotwResponse,
  type Step,
  type StreamEvent,
  type TypeProgress,
} from './types.js';

export interface SotwRequest {
  readonly typeUrl: string;
  readonly versionInfo: string;
  readonly responseNonce: string;
  readonly resourceNames: readonly string[];
  readonly errorDetail?: ErrorDetail | null;
}

interface Sent {
  readonly nonce: string;
  readonly versionInfo: string;
  readonly content: ReadonlyMap<string, XdsResource>;
  readonly sentAt: number;
  /** The newest config version whose content for this type equals what was sent. */
  upTo: string;
}

interface Watch {
  wildcard: boolean;
  names: Set<string>;
  /** The names as one string: streams asking for the same names share what they are sent. */
  namesKey: string;
  sent: Sent | undefined;
  acked: boolean;
  /** What the client runs: the content of the last ACKed response. */
  ackedContent: ReadonlyMap<string, XdsResource>;
  at: string | undefined;
  nack: { version: string; message: string } | undefined;
}

export class SotwStream {
  private readonly watches = new Map<string, Watch>();
  private readonly nonces = new Nonces();
  private snapshot: Snapshot | undefined;

  constructor(snapshot?: Snapshot) {
    this.snapshot = snapshot;
  }

  get version(): string | undefined {
    return this.snapshot?.version;
  }

  progress(): TypeProgress[] {
    return [...this.watches].map(([typeUrl, w]) => ({
      typeUrl,
      at: w.at,
      nack: w.nack,
      pending: w.sent !== undefined && !w.acked,
    }));
  }

  onRequest(req: SotwRequest, now = 0): Step<SotwResponse> {
    const events: StreamEvent[] = [];
    let w = this.watches.get(req.typeUrl);
    if (w && req.responseNonce !== '' && req.responseNonce !== w.sent?.nonce) {
      return { responses: [], events }; // stale: the client has not seen our latest response yet
    }
    const names = req.resourceNames.filter((n) => n !== '*');
    const wildcard =
      req.resourceNames.includes('*') ||
      (WILDCARD_TYPES.has(req.typeUrl) && req.resourceNames.length === 0);
    if (!w) {
      const set = new Set(names);
      w = {
        wildcard,
        names: set,
        namesKey: JSON.stringify([...set]),
        sent: undefined,
        acked: false,
        ackedContent: new Map(),
        at: undefined,
        nack: undefined,
      };
      this.watches.set(req.typeUrl, w);
      this.resumeFrom(req, w);
    } else {
      if (w.sent && req.responseNonce === w.sent.nonce && !w.acked) {
        events.push(this.settle(req, w, w.sent));
      }
      w.wildcard = wildcard;
      if (!sameNames(w.names, names)) {
        w.names = new Set(names);
        w.namesKey = JSON.stringify([...w.names]);
      }
    }
    const first = w.sent === undefined;
    const r = this.respond(req.typeUrl, w, now, first);
    return { responses: r ? [r] : [], events };
  }

  /** A new snapshot: push every type whose content changed, in make-before-break order. */
  onSnapshot(snapshot: Snapshot, now = 0): Step<SotwResponse> {
    const prev = this.snapshot;
    this.snapshot = snapshot;
    const first: SotwResponse[] = [];
    const last: SotwResponse[] = [];
    for (const typeUrl of pushOrder(this.watches.keys())) {
      const w = this.watches.get(typeUrl)!;
      if (w.sent === undefined && !this.shouldAnswerFirst(typeUrl, w)) continue;
      const desired = this.desired(typeUrl, w);
      if (w.sent && sameContent(desired, w.sent.content)) {
        w.sent.upTo = snapshot.version;
        if (w.acked && w.nack === undefined) w.at = snapshot.version;
        continue;
      }
      const removed =
        fullSet(typeUrl, w) && prev
          ? [...w.ackedContent.keys()].filter((n) => !desired.has(n))
          : [];
      if (removed.length > 0) {
        // Keep the removed ones (as the client runs them) in this response and drop them after
        // the rest went out, so a route still naming an old cluster never points at nothing.
        const keep = new Map(desired);
        for (const n of removed) keep.set(n, w.ackedContent.get(n)!);
        first.push(this.send(typeUrl, w, keep, now));
        last.push(this.send(typeUrl, w, desired, now));
      } else {
        first.push(this.send(typeUrl, w, desired, now));
      }
    }
    // Removals in reverse push order (routes and listeners before the clusters they used). Only
    // the last response of a type counts; the ACK of an earlier nonce of it is stale.
    return { responses: [...first, ...last.reverse()], events: [] };
  }

  private resumeFrom(req: SotwRequest, w: Watch): void {
    // A reconnecting client that already runs the current version of this type is not resent it.
    if (req.versionInfo === '' || req.versionInfo !== this.snapshot?.version) return;
    w.sent = {
      nonce: '',
      versionInfo: req.versionInfo,
      content: this.desired(req.typeUrl, w),
      sentAt: 0,
      upTo: req.versionInfo,
    };
    w.acked = true;
    w.ackedContent = w.sent.content;
    w.at = req.versionInfo;
  }

  private settle(req: SotwRequest, w: Watch, sent: Sent): StreamEvent {
    if (req.errorDetail && (req.errorDetail.message || req.errorDetail.code)) {
      const message = req.errorDetail.message ?? `error code ${req.errorDetail.code}`;
      w.nack = { version: sent.upTo, message };
      w.acked = true; // settled: nothing is resent until the content changes
      return {
        kind: 'rejected',
        typeUrl: req.typeUrl,
        version: sent.upTo,
        nonce: sent.nonce,
        message,
        sentAt: sent.sentAt,
      };
    }
    w.acked = true;
    w.ackedContent = sent.content;
    w.nack = undefined;
    w.at = sent.upTo;
    return {
      kind: 'acked',
      typeUrl: req.typeUrl,
      version: sent.upTo,
      nonce: sent.nonce,
      sentAt: sent.sentAt,
    };
  }

  private respond(
    typeUrl: string,
    w: Watch,
    now: number,
    first: boolean,
  ): SotwResponse | undefined {
    if (!this.snapshot) return undefined;
    if (first && !this.shouldAnswerFirst(typeUrl, w)) return undefined;
    const desired = this.desired(typeUrl, w);
    if (w.sent && sameContent(desired, w.sent.content)) return undefined;
    if (w.sent && !fullSet(typeUrl, w) && isSubset(desired, w.sent.content)) {
      // Named RDS/EDS: unsubscribing needs no response (absence is not deletion there).
      w.sent = { ...w.sent, content: desired };
      return undefined;
    }
    return this.send(typeUrl, w, desired, now);
  }

  /** First answer of a type: full-set types always answer; named ones once something exists. */
  private shouldAnswerFirst(typeUrl: string, w: Watch): boolean {
    if (!this.snapshot) return false;
    return fullSet(typeUrl, w) || this.desired(typeUrl, w).size > 0;
  }

  private desired(typeUrl: string, w: Watch): ReadonlyMap<string, XdsResource> {
    const all = resourcesOf(this.snapshot, typeUrl);
    // Snapshots are immutable: streams share these maps rather than copy them.
    return w.wildcard ? all : pick(all, w.names, w.namesKey);
  }

  private send(
    typeUrl: string,
    w: Watch,
    content: ReadonlyMap<string, XdsResource>,
    now: number,
  ): SotwResponse {
    const version = this.snapshot!.version;
    const nonce = this.nonces.next();
    w.sent = { nonce, versionInfo: version, content, sentAt: now, upTo: version };
    w.acked = false;
    return { typeUrl, versionInfo: version, nonce, resources: listOf(content) };
  }
}

/** Listener and Cluster responses carry every resource the client should have (absence = deletion). */
function fullSet(typeUrl: string, _w: Watch): boolean {
  return WILDCARD_TYPES.has(typeUrl);
}

/** An ACK repeats the names of its type: nothing to rebuild then. */
function sameNames(have: ReadonlySet<string>, names: readonly string[]): boolean {
  if (names.length !== have.size) return false;
  for (const n of names) if (!have.has(n)) return false;
  return true;
}

function sameContent(
  a: ReadonlyMap<string, XdsResource>,
  b: ReadonlyMap<string, XdsResource>,
): boolean {
  if (a.size !== b.size) return false;
  for (const [n, r] of a) if (b.get(n)?.version !== r.version) return false;
  return true;
}

function isSubset(
  a: ReadonlyMap<string, XdsResource>,
  b: ReadonlyMap<string, XdsResource>,
): boolean {
  for (const [n, r] of a) if (b.get(n)?.version !== r.version) return false;
  return true;
}
