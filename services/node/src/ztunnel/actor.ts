import net from 'node:net';
import type { Actor, ActorContext, Reply } from '../actors/index.js';
import { HboneClient } from '../hbone/client.js';
import { EMPTY_CERTS, type CertSet } from '../hbone/identity.js';
import { HboneListener } from '../hbone/server.js';
import { EMPTY_L4, waypointWorkloads, type L4State, type WorkloadInfo } from '../l4/model.js';
import type { DataplaneStats } from '../stats.js';
import { outboundAddress } from './addresses.js';
import { handleInbound } from './inbound.js';
import { handleOutbound } from './outbound.js';

export type ZtunnelMsg =
  | { readonly kind: 'config'; readonly state: L4State; readonly reply: Reply<void> }
  | { readonly kind: 'certs'; readonly certs: CertSet }
  | { readonly kind: 'dump'; readonly reply: Reply<ZtunnelDump> };

export interface ZtunnelDump {
  readonly inbound: { ip: string; port: number; identity: string }[];
  readonly outbound: { service: string; address: string; port: number }[];
  readonly pooledSessions: string[];
}

export interface ZtunnelOptions {
  readonly cluster: string;
  readonly node: string;
  readonly hbonePort: number;
  readonly outboundOctet: number;
  readonly stats: DataplaneStats;
}

/** Identities of the local (non-waypoint) workloads: the certs the cert manager must fetch. */
export function localWorkloads(
  state: L4State,
  opts: { cluster: string; node: string },
): WorkloadInfo[] {
  const seen = new Set<string>();
  return [...state.workloadsByIp.values()].filter((w) => {
    if (seen.has(w.uid)) return false;
    seen.add(w.uid);
    return w.node === opts.node && (w.cluster === '' || w.cluster === opts.cluster);
  });
}

/**
 * The ztunnel role: HBONE inbound for every local workload, an outbound listener per service,
 * pooled HBONE client. The data path reads this actor's current (immutable) state and certs;
 * changes arrive as messages and are applied here one at a time.
 */
export function ztunnelActor(opts: ZtunnelOptions) {
  return (ctx: ActorContext<ZtunnelMsg>): Actor<ZtunnelMsg> => {
    let state = EMPTY_L4;
    let certs = EMPTY_CERTS;
    const client = new HboneClient(ctx.logger);
    const inbound = new Map<string, HboneListener>();
    const outbound = new Map<
      string,
      { server: net.Server; address: string; port: number; service: string }
    >();
    const isLocal = (w: WorkloadInfo) =>
      w.node === opts.node && (w.cluster === '' || w.cluster === opts.cluster);

    async function reconcileInbound(): Promise<void> {
      const waypoints = waypointWorkloads(state);
      const want = new Map<string, WorkloadInfo>();
      for (const w of localWorkloads(state, opts)) {
        if (!w.hbone || waypoints.has(w)) continue;
        for (const ip of w.ips) want.set(ip, w);
      }
      for (const [ip, l] of inbound) {
        const w = want.get(ip);
        if (!w || w.identity !== l.identity) {
          inbound.delete(ip);
          await l.close(30_000);
        }
      }
      for (const [ip, w] of want) {
        const cert = certs.byIdentity.get(w.identity);
        if (!cert) continue; // started when the cert manager delivers it
        const have = inbound.get(ip);
        if (have) {
          have.updateCert(cert, certs.trustBundlePem);
          continue;
        }
        const l = new HboneListener(
          {
            host: ip,
            port: opts.hbonePort,
            logger: ctx.logger,
            onConnect: (req, stream) => handleInbound(state, req, stream, ctx.logger, opts.stats),
          },
          cert,
          certs.trustBundlePem,
        );
        await l.start();
        inbound.set(ip, l);
      }
    }

    async function reconcileOutbound(next: L4State): Promise<void> {
      const want = new Map<string, { service: string; address: string; port: number }>();
      for (const s of next.services.values()) {
        for (const p of s.ports) {
          want.set(`${s.key}|${p.servicePort}`, {
            service: s.key,
            address: outboundAddress(opts.outboundOctet, s.key),
            port: p.servicePort,
          });
        }
      }
      // Bind new listeners first: a bind failure rejects the config with the old one intact.
      const started: string[] = [];
      try {
        for (const [key, o] of want) {
          if (outbound.has(key)) continue;
          const server = net.createServer((sock) =>
            handleOutbound(
              {
                state: () => state,
                certs: () => certs,
                client,
                logger: ctx.logger,
                stats: opts.stats,
                isLocal,
              },
              o.service,
              o.port,
              sock,
            ),
          );
          await new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(o.port, o.address, () => resolve());
          });
          outbound.set(key, { server, ...o });
          started.push(key);
        }
      } catch (err) {
        for (const key of started) {
          outbound.get(key)?.server.close();
          outbound.delete(key);
        }
        throw new Error(`outbound listener: ${(err as Error).message}`, { cause: err });
      }
      // Removed services: stop accepting; open connections drain on their own.
      for (const [key, o] of outbound) {
        if (!want.has(key)) {
          o.server.close();
          outbound.delete(key);
        }
      }
    }

    return {
      async receive(msg) {
        switch (msg.kind) {
          case 'config':
            try {
              await reconcileOutbound(msg.state);
              state = msg.state;
              await reconcileInbound();
              msg.reply.resolve();
            } catch (err) {
              msg.reply.reject(err);
            }
            return;
          case 'certs': {
            const prev = certs;
            certs = msg.certs;
            for (const [id, c] of certs.byIdentity) {
              const old = prev.byIdentity.get(id);
              if (old && old.generation !== c.generation) client.rotate(id, c.generation);
            }
            await reconcileInbound();
            return;
          }
          case 'dump':
            msg.reply.resolve({
              inbound: [...inbound].map(([ip, l]) => ({ ip, port: l.port, identity: l.identity })),
              outbound: [...outbound.values()].map((o) => ({
                service: o.service,
                address: o.address,
                port: o.port,
              })),
              pooledSessions: client.sessionKeys(),
            });
            return;
        }
      },
      async stop() {
        client.close();
        for (const o of outbound.values()) o.server.close();
        outbound.clear();
        await Promise.all([...inbound.values()].map((l) => l.close(0)));
        inbound.clear();
      },
    };
  };
}
