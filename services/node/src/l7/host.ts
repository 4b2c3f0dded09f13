/**
 * Spawns one supervised proxy actor (waypoint or gateway) per proxy hosted on this node, stops
 * the ones that left (or whose address or identity changed), and forwards config views and
 * certificates to them as messages. A restarted actor starts from the latest view and certs.
 */
import type { ActorFactory, ActorRef, Reply, Supervisor } from '../actors/index.js';
import { EMPTY_CERTS, type CertSet } from '../hbone/identity.js';

export interface HostedProxy {
  readonly uid: string;
  readonly ip: string;
  readonly identity: string;
}

/** The messages every proxy actor understands. */
export type ProxyMsg<V, D> =
  | { readonly kind: 'config'; readonly view: V; readonly reply: Reply<void> }
  | { readonly kind: 'certs'; readonly certs: CertSet }
  | { readonly kind: 'dump'; readonly reply: Reply<D> };

export type ProxyFactory<H, V, D> = (
  hosted: H,
  latest: () => { view: V; certs: CertSet },
) => ActorFactory<ProxyMsg<V, D>>;

interface Running<H, V, D> {
  readonly name: string;
  readonly hosted: H;
  ref?: ActorRef<ProxyMsg<V, D>>;
  view: V;
}

export class ProxyHost<H extends HostedProxy, V, D> {
  private readonly running = new Map<string, Running<H, V, D>>();
  private latestCerts: CertSet = EMPTY_CERTS;

  constructor(
    private readonly sup: Supervisor,
    private readonly opts: {
      /** Actor name prefix: `<prefix>:<uid>`. */
      readonly prefix: string;
      readonly certs: () => CertSet | undefined;
      readonly actor: ProxyFactory<H, V, D>;
    },
  ) {}

  certs(c: CertSet): void {
    this.latestCerts = c;
    for (const r of this.running.values()) r.ref?.tell({ kind: 'certs', certs: c });
  }

  async reconcile(want: readonly { hosted: H; view: V }[]): Promise<void> {
    const next = new Map(want.map((w) => [w.hosted.uid, w.hosted]));
    for (const [uid, r] of this.running) {
      const n = next.get(uid);
      if (!n || n.ip !== r.hosted.ip || n.identity !== r.hosted.identity) {
        this.running.delete(uid);
        await this.sup.stop(r.name);
      }
    }
    for (const { hosted, view } of want) {
      const have = this.running.get(hosted.uid);
      if (have?.ref) {
        have.view = view;
        await have.ref.ask<void>((reply) => ({ kind: 'config', view, reply }), 10_000);
        continue;
      }
      const entry: Running<H, V, D> = { name: `${this.opts.prefix}:${hosted.uid}`, hosted, view };
      this.running.set(hosted.uid, entry);
      entry.ref = this.sup.spawn<ProxyMsg<V, D>>(
        entry.name,
        this.opts.actor(hosted, () => ({
          view: entry.view,
          certs: this.opts.certs() ?? this.latestCerts,
        })),
      );
    }
  }

  async dump(): Promise<(D | string)[]> {
    return Promise.all(
      [...this.running.values()].map((r) =>
        r.ref
          ? r.ref.ask<D>((reply) => ({ kind: 'dump', reply }), 2000).catch((e: Error) => e.message)
          : Promise.resolve('starting'),
      ),
    );
  }
}
