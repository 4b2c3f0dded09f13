/**
 * Per-node xDS state for this replica: which nodes are connected, what they subscribed to, the
 * version each type runs, the last NACK. ACKs and NACKs become events (NodeConfigAcked,
 * NodeConfigRejected) for the store and the rollout gates.
 */
import type { Logger } from '@shoal/common';
import { nodeVersion, type NodeProgress } from './core/convergence.js';
import type { StreamEvent, TypeProgress } from './core/types.js';
import { nodeEvent, type EventSink } from './events.js';
import { typeLabel, type XdsMetrics } from './metrics.js';

export interface StreamInfo {
  readonly id: number;
  readonly cluster: string;
  readonly node: string;
  readonly proxyless: boolean;
  /** The SPIFFE id of the client certificate; absent on the plaintext listener. */
  readonly spiffeId: string | undefined;
  readonly mode: 'sotw' | 'delta';
  readonly connectedAt: number;
  readonly progress: () => TypeProgress[];
}

interface Entry {
  readonly info: StreamInfo;
  reportedVersion: string | undefined;
  lastNack: NodeProgress['lastNack'];
}

export class NodeRegistry {
  private readonly streams = new Map<number, Entry>();

  constructor(
    private readonly replica: string,
    private readonly sink: EventSink,
    private readonly logger: Logger,
    private readonly metrics?: XdsMetrics,
    private readonly now: () => number = Date.now,
  ) {}

  add(info: StreamInfo): void {
    this.streams.set(info.id, { info, reportedVersion: undefined, lastNack: undefined });
  }

  remove(id: number): void {
    this.streams.delete(id);
  }

  get size(): number {
    return this.streams.size;
  }

  /** ACK/NACK of one response on a stream: metrics, node-level progress, events. */
  onEvents(id: number, events: readonly StreamEvent[]): void {
    const e = this.streams.get(id);
    if (!e) return;
    const { info } = e;
    for (const ev of events) {
      const type = typeLabel(ev.typeUrl);
      if (ev.sentAt > 0)
        this.metrics?.pushAckSeconds.observe({ type }, (this.now() - ev.sentAt) / 1000);
      if (ev.kind === 'rejected') {
        this.metrics?.nacks.inc({ type });
        e.lastNack = {
          typeUrl: ev.typeUrl,
          version: ev.version,
          message: ev.message,
          at: this.now(),
        };
        this.logger.warn(
          {
            cluster: info.cluster,
            node: info.node,
            typeUrl: ev.typeUrl,
            version: ev.version,
            reason: ev.message,
          },
          'node rejected config (NACK)',
        );
        this.sink.publish(
          nodeEvent('NodeConfigRejected', info, this.now(), {
            version: ev.version,
            typeUrl: ev.typeUrl,
            message: ev.message,
            nonce: ev.nonce,
          }),
        );
      } else {
        this.metrics?.acks.inc({ type });
      }
    }
    const v = nodeVersion(info.progress());
    if (v !== undefined && v !== e.reportedVersion) {
      e.reportedVersion = v;
      this.sink.publish(
        nodeEvent('NodeConfigAcked', info, this.now(), {
          version: v,
          types: info.progress().map((t) => t.typeUrl),
        }),
      );
    }
  }

  /** The state of every node of `cluster` connected to this replica. */
  progress(cluster: string): NodeProgress[] {
    const out: NodeProgress[] = [];
    for (const { info, lastNack } of this.streams.values()) {
      if (info.cluster !== cluster) continue;
      out.push({
        cluster: info.cluster,
        node: info.node,
        proxyless: info.proxyless,
        connectedAt: info.connectedAt,
        replica: this.replica,
        types: info.progress(),
        ...(lastNack ? { lastNack } : {}),
      });
    }
    return out;
  }
}
