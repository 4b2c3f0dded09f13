/**
 * One waypoint hosted on this node (the "sandwich"): HBONE in on <waypoint ip>:15008 with the
 * waypoint's own SPIFFE certificate, the tunnelled bytes served as HTTP/1.1 or HTTP/2 (h2c,
 * gRPC), L7 policy applied, and each request re-encapsulated in HBONE to the chosen endpoint's
 * node with the waypoint's identity (destinations accept only their waypoint). An endpoint on
 * this same node is dialled in process after the same inbound checks (sameNodeDialer).
 */
import type { ServerHttp2Stream } from 'node:http2';
import type { Actor, ActorContext } from '../actors/index.js';
import { HboneClient } from '../hbone/client.js';
import type { CertSet } from '../hbone/identity.js';
import { HboneListener, type InboundConnect } from '../hbone/server.js';
import type { DataplaneStats } from '../stats.js';
import { sameNodeDialer, sourceIp } from '../ztunnel/inbound.js';
import { RateLimiter } from '../l7/filters.js';
import type { ProxyMsg } from '../l7/host.js';
import { handleRequest, type ConnInfo, type L7View } from '../l7/proxy.js';
import { HttpDispatcher } from '../l7/serve.js';
import { Upstreams, socketLike } from '../l7/upstream.js';

export type WaypointMsg = ProxyMsg<L7View, WaypointDump>;

export interface WaypointDump {
  readonly workload: string;
  readonly address: string;
  readonly identity: string;
  readonly listening: boolean;
  readonly version: string;
  readonly listener?: string;
  readonly routes?: string;
  readonly virtualHosts: number;
  /** Pooled HBONE sessions to upstream nodes (source | destination identity | address); an
   * endpoint on this node is dialled in process and has none. */
  readonly upstreamSessions: string[];
}

export interface WaypointOptions {
  readonly uid: string;
  readonly ip: string;
  readonly identity: string;
  readonly hbonePort: number;
  readonly stats: DataplaneStats;
  /** This node: endpoints on it are reached in process (sameNodeDialer), not over HBONE. */
  readonly self: { readonly cluster: string; readonly node: string };
  /** The latest view and certificates (a restarted incarnation starts from them). */
  readonly latest: () => { view: L7View; certs: CertSet };
}

export function waypointActor(opts: WaypointOptions) {
  return (ctx: ActorContext<WaypointMsg>): Actor<WaypointMsg> => {
    let { view, certs } = opts.latest();
    let listener: HboneListener | undefined;
    const client = new HboneClient(ctx.logger);
    const upstreams = new Upstreams({
      client,
      logger: ctx.logger,
      source: () => {
        const cert = certs.byIdentity.get(opts.identity);
        return cert ? { cert, trustBundlePem: certs.trustBundlePem } : undefined;
      },
      local: sameNodeDialer({
        self: opts.self,
        l4: () => view.l4,
        identity: opts.identity,
        ip: opts.ip,
        stats: opts.stats,
        logger: ctx.logger,
      }),
    });
    const deps = {
      view: () => view,
      upstreams,
      limiter: new RateLimiter(),
      stats: opts.stats,
      logger: ctx.logger,
    };
    const http = new HttpDispatcher((c, req, res, h2) => handleRequest(deps, c, req, res, h2));
    const onConnect = (req: InboundConnect, stream: ServerHttp2Stream) => {
      const conn: ConnInfo = {
        role: 'waypoint',
        peer: req.peer,
        sourceIp: sourceIp(req),
        authority: req.authority,
        scheme: 'http',
      };
      stream.respond({ ':status': 200 });
      opts.stats.connection('waypoint', req.authority, 'ok');
      http.serve(stream, conn, socketLike);
    };

    async function ensureListener(): Promise<void> {
      const cert = certs.byIdentity.get(opts.identity);
      if (!cert) return; // started when the cert manager delivers the waypoint's certificate
      if (listener) return listener.updateCert(cert, certs.trustBundlePem);
      const l = new HboneListener(
        { host: opts.ip, port: opts.hbonePort, logger: ctx.logger, onConnect },
        cert,
        certs.trustBundlePem,
      );
      await l.start();
      listener = l;
      ctx.logger.info(
        { address: `${opts.ip}:${opts.hbonePort}`, identity: opts.identity },
        'waypoint listening',
      );
    }

    // A restarted incarnation already has certificates: listen again without waiting.
    ctx.self.tell({ kind: 'certs', certs });

    return {
      async receive(msg) {
        switch (msg.kind) {
          case 'config':
            // Requests in flight keep the view they started with; new ones get this one.
            view = msg.view;
            msg.reply.resolve();
            return;
          case 'certs': {
            const old = certs.byIdentity.get(opts.identity);
            certs = msg.certs;
            const cur = certs.byIdentity.get(opts.identity);
            if (old && cur && old.generation !== cur.generation)
              client.rotate(opts.identity, cur.generation);
            await ensureListener();
            return;
          }
          case 'dump':
            msg.reply.resolve({
              workload: opts.uid,
              address: `${opts.ip}:${opts.hbonePort}`,
              identity: opts.identity,
              listening: listener !== undefined,
              version: view.version,
              ...(view.listener ? { listener: view.listener.name } : {}),
              ...(view.routes ? { routes: view.routes.name } : {}),
              virtualHosts: view.routes?.virtualHosts.length ?? 0,
              upstreamSessions: client.sessionKeys(),
            });
            return;
        }
      },
      async stop() {
        await listener?.close(5000);
        listener = undefined;
        upstreams.close();
        client.close();
      },
    };
  };
}
