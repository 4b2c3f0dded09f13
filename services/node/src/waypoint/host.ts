import type { ActorRef, Supervisor } from '../actors/index.js';
import { EMPTY_CERTS, type CertSet } from '../hbone/identity.js';
import type { DataplaneStats } from '../stats.js';
import { waypointActor, type WaypointDump, type WaypointMsg } from './actor.js';
import type { HostedWaypoint } from './hosting.js';
import type { WaypointView } from './proxy.js';

interface Running {
  readonly name: string;
  readonly wp: HostedWaypoint;
  readonly ref: ActorRef<WaypointMsg>;
  view: WaypointView;
}

/**
 * Spawns one supervised waypoint actor per waypoint hosted on this node, stops the ones that
 * left, and forwards config views and certificates to them as messages.
 */
export class WaypointHost {
  private readonly running = new Map<string, Running>();
  private latestCerts: CertSet = EMPTY_CERTS;

  constructor(
    private readonly sup: Supervisor,
    private readonly opts: {
      readonly hbonePort: number;
      readonly stats: DataplaneStats;
      readonly certs: () => CertSet | undefined;
    },
  ) {}

  certs(c: CertSet): void {
    this.latestCerts = c;
    for (const r of this.running.values()) r.ref.tell({ kind: 'certs', certs: c });
  }

  async reconcile(want: readonly { wp: HostedWaypoint; view: WaypointView }[]): Promise<void> {
    const keep = new Set(want.map((w) => w.wp.uid));
    for (const [uid, r] of this.running) {
      const next = want.find((w) => w.wp.uid === uid)?.wp;
      if (!keep.has(uid) || next?.ip !== r.wp.ip || next.identity !== r.wp.identity) {
        this.running.delete(uid);
        await this.sup.stop(r.name);
      }
    }
    for (const { wp, view } of want) {
      const have = this.running.get(wp.uid);
      if (have) {
        have.view = view;
        await have.ref.ask<void>((reply) => ({ kind: 'config', view, reply }), 10_000);
        continue;
      }
      const name = `waypoint:${wp.uid}`;
      const entry: Running = {
        name,
        wp,
        view,
        ref: undefined as unknown as ActorRef<WaypointMsg>,
      };
      this.running.set(wp.uid, entry);
      (entry as { ref: ActorRef<WaypointMsg> }).ref = this.sup.spawn<WaypointMsg>(
        name,
        waypointActor({
          uid: wp.uid,
          ip: wp.ip,
          identity: wp.identity,
          hbonePort: this.opts.hbonePort,
          stats: this.opts.stats,
          latest: () => ({ view: entry.view, certs: this.opts.certs() ?? this.latestCerts }),
        }),
      );
    }
  }

  async dump(): Promise<(WaypointDump | string)[]> {
    return Promise.all(
      [...this.running.values()].map((r) =>
        r.ref
          .ask<WaypointDump>((reply) => ({ kind: 'dump', reply }), 2000)
          .catch((e: Error) => e.message),
      ),
    );
  }
}
