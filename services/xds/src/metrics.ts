import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The xDS server's Prometheus metrics, registered on the admin server's registry. */
export class XdsMetrics {
  readonly streams: Gauge<'mode' | 'listener'>;
  readonly pushes: Counter<'type'>;
  readonly acks: Counter<'type'>;
  readonly nacks: Counter<'type'>;
  readonly pushAckSeconds: Histogram<'type'>;
  readonly refused: Counter<'reason'>;
  readonly inconsistent: Counter<'cluster'>;
  readonly servedVersion: Gauge<'cluster' | 'version'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.streams = new Gauge({
      name: 'shoal_xds_connected_streams',
      help: 'ADS streams currently open',
      labelNames: ['mode', 'listener'],
      registers,
    });
    this.pushes = new Counter({
      name: 'shoal_xds_pushes_total',
      help: 'Discovery responses sent',
      labelNames: ['type'],
      registers,
    });
    this.acks = new Counter({
      name: 'shoal_xds_acks_total',
      help: 'Responses ACKed by clients',
      labelNames: ['type'],
      registers,
    });
    this.nacks = new Counter({
      name: 'shoal_xds_nacks_total',
      help: 'Responses rejected (NACKed) by clients',
      labelNames: ['type'],
      registers,
    });
    this.pushAckSeconds = new Histogram({
      name: 'shoal_xds_push_ack_seconds',
      help: 'Time from sending a response to its ACK or NACK',
      labelNames: ['type'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.refused = new Counter({
      name: 'shoal_xds_refused_streams_total',
      help: 'Streams refused because of the client identity',
      labelNames: ['reason'],
      registers,
    });
    this.inconsistent = new Counter({
      name: 'shoal_xds_inconsistent_snapshots_total',
      help: 'Node snapshots not served because a reference was broken',
      labelNames: ['cluster'],
      registers,
    });
    this.servedVersion = new Gauge({
      name: 'shoal_xds_served_version',
      help: 'The config version served per cluster (value 1)',
      labelNames: ['cluster', 'version'],
      registers,
    });
  }
}

/** Short type label for metrics: the message name without its package. */
export function typeLabel(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
}
