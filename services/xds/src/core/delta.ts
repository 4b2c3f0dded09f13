/**
 * The incremental (Delta) ADS protocol for one stream, as a pure state machine. The server
 * tracks which version of each resource the client has (seeded from initial_resource_versions
 * on reconnect, so unchanged resources are not resent), sends only what differs, and lists
 * deleted names in removed_resources after every addition went out (make-before-break).
 */
import { WILDCARD_TYPES, type XdsResource } from '@shoal/proto';
import { resourcesOf, type Snapshot } from './snapshot.js';
import {
  Nonces,
  pushOrder,
  type DeltaResponse,
  type ErrorDetail,
  type Step,
  type StreamEvent,
  type TypeProgress,
} from './types.js';

export interface DeltaRequest {
  readonly typeUrl: string;
  readonly responseNonce: string;
  readonly resourceNamesSubscribe: readonly string[];
  readonly resourceNamesUnsubscribe: readonly string[];
  readonly initialResourceVersions: Readonly<Record<string, string>>;
  readonly errorDetail?: ErrorDetail | null;
}

interface Pending {
  version: string;
  readonly sentAt: number;
}

interface Watch {
  wildcard: boolean;
  readonly names: Set<string>;
  /** What we believe the client has: name → resource version. */
  readonly has: Map<string, string>;
  readonly pending: Map<string, Pending>;
  at: string | undefined;
  nack: { version: string; message: string } | undefined;
}

export class DeltaStream {
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
      pending: w.pending.size > 0,
    }));
  }

  onRequest(req: DeltaRequest, now = 0): Step<DeltaResponse> {
    const events: StreamEvent[] = [];
    let w = this.watches.get(req.typeUrl);
    if (!w) {
      const explicit = req.resourceNamesSubscribe.length > 0;
      w = {
        // Wildcard for LDS/CDS unless the first request names resources (legacy wildcard rule).
        wildcard: !explicit && WILDCARD_TYPES.has(req.typeUrl),
        names: new Set(),
        has: new Map(Object.entries(req.initialResourceVersions)),
        pending: new Map(),
        at: undefined,
        nack: undefined,
      };
      this.watches.set(req.typeUrl, w);
    }
    const p = req.responseNonce === '' ? undefined : w.pending.get(req.responseNonce);
    if (p) events.push(this.settle(req, w, p));
    for (const n of req.resourceNamesSubscribe) {
      if (n === '*') w.wildcard = true;
      else w.names.add(n);
    }
    for (const n of req.resourceNamesUnsubscribe) {
      // An unsubscribed resource is forgotten by the client; forget it here too.
      if (n === '*') {
        w.wildcard = false;
        for (const k of [...w.has.keys()]) if (!w.names.has(k)) w.has.delete(k);
      } else {
        w.names.delete(n);
        if (!w.wildcard) w.has.delete(n);
      }
    }
    const responses: DeltaResponse[] = [];
    const { upserts, removals } = this.diff(req.typeUrl, w);
    if (upserts.length > 0 || removals.length > 0) {
      responses.push(this.send(req.typeUrl, w, upserts, removals, now));
    } else if (this.snapshot && w.pending.size === 0 && w.nack === undefined) {
      // Nothing to send: the client already has this version (e.g. a resumed stream).
      w.at = this.snapshot.version;
    }
    return { responses, events };
  }

  onSnapshot(snapshot: Snapshot, now = 0): Step<DeltaResponse> {
    this.snapshot = snapshot;
    const adds: DeltaResponse[] = [];
    const removes: DeltaResponse[] = [];
    const types = pushOrder(this.watches.keys());
    const diffs = types.map((t) => [t, this.diff(t, this.watches.get(t)!)] as const);
    for (const [typeUrl, d] of diffs) {
      const w = this.watches.get(typeUrl)!;
      if (d.upserts.length > 0) adds.push(this.send(typeUrl, w, d.upserts, [], now));
      else if (d.removals.length === 0) {
        const last = [...w.pending.values()].at(-1);
        if (last) last.version = snapshot.version;
        else if (w.nack === undefined) w.at = snapshot.version;
      }
    }
    for (const [typeUrl, d] of [...diffs].reverse()) {
      if (d.removals.length > 0)
        removes.push(this.send(typeUrl, this.watches.get(typeUrl)!, [], d.removals, now));
    }
    return { responses: [...adds, ...removes], events: [] };
  }

  private settle(req: DeltaRequest, w: Watch, p: Pending): StreamEvent {
    // Responses are answered in order: this one settles every older one too.
    for (const k of [...w.pending.keys()]) {
      w.pending.delete(k);
      if (k === req.responseNonce) break;
    }
    if (req.errorDetail && (req.errorDetail.message || req.errorDetail.code)) {
      const message = req.errorDetail.message ?? `error code ${req.errorDetail.code}`;
      w.nack = { version: p.version, message };
      return {
        kind: 'rejected',
        typeUrl: req.typeUrl,
        version: p.version,
        nonce: req.responseNonce,
        message,
        sentAt: p.sentAt,
      };
    }
    w.nack = undefined;
    if (w.pending.size === 0) w.at = p.version;
    return {
      kind: 'acked',
      typeUrl: req.typeUrl,
      version: p.version,
      nonce: req.responseNonce,
      sentAt: p.sentAt,
    };
  }

  private diff(typeUrl: string, w: Watch): { upserts: XdsResource[]; removals: string[] } {
    const upserts: XdsResource[] = [];
    const removals: string[] = [];
    if (!this.snapshot) return { upserts, removals };
    const all = resourcesOf(this.snapshot, typeUrl);
    const scope = w.wildcard ? new Set([...all.keys(), ...w.has.keys(), ...w.names]) : w.names;
    for (const n of scope) {
      const r = all.get(n);
      if (r && w.has.get(n) !== r.version) upserts.push(r);
      else if (!r && w.has.has(n)) removals.push(n);
    }
    return { upserts, removals };
  }

  private send(
    typeUrl: string,
    w: Watch,
    upserts: XdsResource[],
    removed: string[],
    now: number,
  ): DeltaResponse {
    const version = this.snapshot!.version;
    const nonce = this.nonces.next();
    for (const r of upserts) w.has.set(r.name, r.version);
    for (const n of removed) w.has.delete(n);
    w.pending.set(nonce, { version, sentAt: now });
    return {
      typeUrl,
      systemVersionInfo: version,
      nonce,
      resources: upserts,
      removedResources: removed,
    };
  }
}
