import { PUSH_ORDER, type XdsResource } from '@shoal/proto';

/** What the protocol state machines report besides responses: ACKs and NACKs of a type. */
export type StreamEvent =
  | {
      readonly kind: 'acked';
      readonly typeUrl: string;
      /** The config version whose content for this type the client now runs. */
      readonly version: string;
      readonly nonce: string;
      readonly sentAt: number;
    }
  | {
      readonly kind: 'rejected';
      readonly typeUrl: string;
      /** The config version the client refused (it keeps running its previous one). */
      readonly version: string;
      readonly nonce: string;
      readonly message: string;
      readonly sentAt: number;
    };

export interface ErrorDetail {
  readonly code?: number;
  readonly message?: string;
}

/** Per type: where the client is. `at` advances on ACK; a NACK leaves it where it was. */
export interface TypeProgress {
  readonly typeUrl: string;
  readonly at: string | undefined;
  readonly nack: { readonly version: string; readonly message: string } | undefined;
  /** A response is out and not yet ACKed or NACKed. */
  readonly pending: boolean;
}

export interface SotwResponse {
  readonly typeUrl: string;
  readonly versionInfo: string;
  readonly nonce: string;
  readonly resources: readonly XdsResource[];
}

export interface DeltaResponse {
  readonly typeUrl: string;
  readonly systemVersionInfo: string;
  readonly nonce: string;
  readonly resources: readonly XdsResource[];
  readonly removedResources: readonly string[];
}

export interface Step<R> {
  readonly responses: readonly R[];
  readonly events: readonly StreamEvent[];
}

/** Types in make-before-break order; types Shoal does not know go last, by name. */
export function pushOrder(types: Iterable<string>): string[] {
  return [...types].sort(byPushOrder);
}

// Module-level so that ordering a stream's types on every push allocates nothing but the array.
const RANK = new Map<string, number>(PUSH_ORDER.map((t, i) => [t, i]));
const rank = (t: string) => RANK.get(t) ?? PUSH_ORDER.length;
const byPushOrder = (a: string, b: string) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);

/** Nonces are unique per stream; a counter is enough and keeps the core deterministic. */
export class Nonces {
  private n = 0;
  next(): string {
    this.n += 1;
    return this.n.toString(36);
  }
}
