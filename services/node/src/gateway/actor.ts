/**
 * One Gateway hosted on this node (ingress): for each of its ports, a listener on
 * <gateway workload ip>:<port> serving plain HTTP (HTTP/1.1, h2c) or TLS-terminated HTTPS (the
 * filter chain picked by SNI, its certificate from an SDS Secret), the shared L7 engine
 * (l7/proxy.ts: routes, filters, policies), and each request sent upstream in HBONE to the
 * chosen endpoint's node with the gateway workload's SPIFFE identity, as the waypoint does.
 */
import net from 'node:net';
import tls, { type SecureContext } from 'node:tls';
import type { Actor, ActorContext } from '../actors/index.js';
import { HboneClient } from '../hbone/client.js';
import type { CertSet } from '../hbone/identity.js';
import { RateLimiter } from '../l7/filters.js';
import type { ProxyMsg } from '../l7/host.js';
import type { FilterChain } from '../l7/model.js';
import { handleRequest, type ConnInfo, type L7View, type ProxyDeps } from '../l7/proxy.js';
import { HttpDispatcher } from '../l7/serve.js';
import { Upstreams } from '../l7/upstream.js';
import { EMPTY_L4 } from '../l4/model.js';
import type { DataplaneStats } from '../stats.js';
import { sameNodeDialer } from '../ztunnel/inbound.js';
import type { GatewayView, HostedGateway } from './hosting.js';

export type GatewayMsg = ProxyMsg<GatewayView, GatewayDump>;

export interface GatewayPortDump {
  readonly port: number;
  readonly tls: boolean;
  readonly listening: boolean;
  readonly error?: string;
  readonly listener?: string;
  readonly routes?: string;
  readonly virtualHosts: number;
}

export interface GatewayDump {
  readonly gateway: string;
  readonly workload: string;
  readonly address: string;
  readonly identity: string;
  readonly version: string;
  readonly ports: readonly GatewayPortDump[];
}

export interface GatewayOptions extends HostedGateway {
  readonly stats: DataplaneStats;
  /** This node: endpoints on it are reached in process (sameNodeDialer), not over HBONE. */
  readonly self: { readonly cluster: string; readonly node: string };
  /** The latest view and certificates (a restarted incarnation starts from them). */
  readonly latest: () => { view: GatewayView; certs: CertSet };
  /** Grace for open connections of a port that left the config. */
  readonly drainMs?: number;
}

interface PortServer {
  readonly server: net.Server;
  readonly tls: boolean;
  readonly sockets: Set<net.Socket>;
  /** SNI → chain → TLS context, rebuilt on every config; read at each handshake. */
  contexts: { chain: FilterChain; ctx: SecureContext }[];
}

/** Envoy's server_names matching: exact, then the longest `*.suffix`, then a chain without. */
export function chainFor<T extends { chain: FilterChain }>(
  chains: readonly T[],
  sni: string | undefined,
): T | undefined {
  const host = sni?.toLowerCase();
  let best: { c: T; rank: number } | undefined;
  for (const c of chains) {
    for (const n of c.chain.serverNames) {
      const rank =
        n === host ? 1e6 : n.startsWith('*.') && host?.endsWith(n.slice(1)) ? n.length : -1;
      if (rank >= 0 && (!best || rank > best.rank)) best = { c, rank };
    }
  }
  return best?.c ?? chains.find((c) => c.chain.serverNames.length === 0);
}

const EMPTY_VIEW = (version: string): L7View => ({
  version,
  l7: {
    listeners: new Map(),
    routes: new Map(),
    clusters: new Map(),
    endpoints: new Map(),
    secrets: new Map(),
  },
  l4: {
    workloadsByIp: new Map(),
    services: new Map(),
    servicesByVip: new Map(),
    policies: new Map(),
  },
});

export function gatewayActor(opts: GatewayOptions) {
  return (ctx: ActorContext<GatewayMsg>): Actor<GatewayMsg> => {
    let { view, certs } = opts.latest();
    const name = `${opts.namespace}/${opts.gateway}`;
    const servers = new Map<number, PortServer>();
    const errors = new Map<number, string>();
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
        l4: () => view.ports.values().next().value?.l4 ?? EMPTY_L4,
        identity: opts.identity,
        ip: opts.ip,
        stats: opts.stats,
        logger: ctx.logger,
      }),
    });
    const limiter = new RateLimiter();
    const deps = new Map<number, ProxyDeps>();
    const depsFor = (port: number): ProxyDeps => {
      let d = deps.get(port);
      if (!d) {
        // Read when a request starts: it keeps that view to the end (pushes never disturb it).
        const v = () => view.ports.get(port) ?? EMPTY_VIEW(view.version);
        d = { view: v, upstreams, limiter, stats: opts.stats, logger: ctx.logger };
        deps.set(port, d);
      }
      return d;
    };
    const http = new HttpDispatcher((c, req, res, h2) =>
      handleRequest(
        depsFor(Number(c.authority.slice(c.authority.lastIndexOf(':') + 1))),
        c,
        req,
        res,
        h2,
      ),
    );
    const accept = (port: number, scheme: 'http' | 'https', s: net.Socket) => {
      s.on('error', () => undefined);
      const info: ConnInfo = {
        role: 'gateway',
        peer: '',
        sourceIp: (s.remoteAddress ?? '').replace(/^::ffff:/, ''),
        authority: `${opts.ip}:${port}`,
        scheme,
      };
      opts.stats.connection('gateway', name, 'ok');
      http.serve(s, info);
    };

    const contextsFor = (port: number): PortServer['contexts'] => {
      const chains = view.ports.get(port)?.listener?.chains ?? [];
      const out: PortServer['contexts'] = [];
      for (const chain of chains) {
        const secret = view.ports.get(port)?.l7.secrets.get(chain.tlsSecrets?.[0] ?? '');
        // A secret not pushed yet (Envoy: the chain warms): handshakes for it fail until then.
        if (secret)
          out.push({
            chain,
            ctx: tls.createSecureContext({ cert: secret.certPem, key: secret.keyPem }),
          });
      }
      return out;
    };

    async function open(port: number, useTls: boolean): Promise<void> {
      const sockets = new Set<net.Socket>();
      const track = (s: net.Socket) => {
        sockets.add(s);
        s.once('close', () => sockets.delete(s));
      };
      let server: net.Server;
      if (useTls) {
        const alpn = [...new Set(view.ports.get(port)?.listener?.chains.flatMap((c) => c.alpn))];
        server = tls.createServer({
          ALPNProtocols: alpn.length > 0 ? alpn : ['http/1.1'],
          SNICallback: (sni, cb) => {
            const c = chainFor(servers.get(port)?.contexts ?? [], sni);
            if (c) cb(null, c.ctx);
            else cb(new Error(`no filter chain for server name ${sni}`));
          },
        });
        server.on('connection', track);
        server.on('secureConnection', (s: tls.TLSSocket) => accept(port, 'https', s));
        server.on('tlsClientError', () => undefined);
      } else {
        server = net.createServer((s) => {
          track(s);
          accept(port, 'http', s);
        });
      }
      const entry: PortServer = {
        server,
        tls: useTls,
        sockets,
        contexts: useTls ? contextsFor(port) : [],
      };
      refreshDefaultContext(port, entry);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, opts.ip, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) =>
        ctx.logger.warn({ err: err.message, port }, 'gateway listener error'),
      );
      servers.set(port, entry);
      ctx.logger.info(
        { gateway: name, address: `${opts.ip}:${port}`, tls: useTls },
        'gateway listening',
      );
    }

    /** Clients without SNI get the chain without server_names, if there is one. */
    function refreshDefaultContext(port: number, p: PortServer): void {
      const fallback = p.contexts.find((c) => c.chain.serverNames.length === 0);
      const secret = view.ports.get(port)?.l7.secrets.get(fallback?.chain.tlsSecrets?.[0] ?? '');
      if (p.tls && secret)
        (p.server as tls.Server).setSecureContext({ cert: secret.certPem, key: secret.keyPem });
    }

    function close(port: number, p: PortServer, graceMs: number): void {
      servers.delete(port);
      p.server.close();
      const destroy = () => {
        for (const s of p.sockets) s.destroy();
      };
      if (graceMs === 0) destroy();
      else setTimeout(destroy, graceMs).unref();
    }

    /** Listen on every port of the view, stop listening on ports that left, refresh TLS. */
    async function reconcilePorts(): Promise<void> {
      for (const [port, p] of servers) {
        const want = view.ports.get(port);
        const wantTls = want?.listener?.chains.some((c) => c.tlsSecrets) ?? false;
        if (!want || wantTls !== p.tls) close(port, p, opts.drainMs ?? 5000);
      }
      for (const [port, v] of view.ports) {
        const p = servers.get(port);
        if (p) {
          if (p.tls) {
            p.contexts = contextsFor(port);
            refreshDefaultContext(port, p);
          }
          continue;
        }
        try {
          await open(port, v.listener?.chains.some((c) => c.tlsSecrets) ?? false);
          errors.delete(port);
        } catch (err) {
          // Not fatal for the node (and not a NACK: the config is valid): retried on the next
          // config or certificate update, shown in /config_dump.
          errors.set(port, (err as Error).message);
          ctx.logger.error(
            { gateway: name, address: `${opts.ip}:${port}`, err: (err as Error).message },
            'gateway cannot listen',
          );
        }
      }
    }

    // A restarted incarnation already has a view and certificates: listen again right away.
    ctx.self.tell({ kind: 'certs', certs });

    return {
      async receive(msg) {
        switch (msg.kind) {
          case 'config':
            // Requests in flight keep the view they started with; new ones get this one.
            view = msg.view;
            await reconcilePorts();
            msg.reply.resolve();
            return;
          case 'certs': {
            const old = certs.byIdentity.get(opts.identity);
            certs = msg.certs;
            const cur = certs.byIdentity.get(opts.identity);
            if (old && cur && old.generation !== cur.generation)
              client.rotate(opts.identity, cur.generation);
            await reconcilePorts();
            return;
          }
          case 'dump':
            msg.reply.resolve({
              gateway: name,
              workload: opts.workload,
              address: opts.ip,
              identity: opts.identity,
              version: view.version,
              ports: [...view.ports].map(([port, v]) => ({
                port,
                tls: servers.get(port)?.tls ?? false,
                listening: servers.has(port),
                ...(errors.has(port) ? { error: errors.get(port)! } : {}),
                ...(v.listener ? { listener: v.listener.name } : {}),
                ...(v.routes ? { routes: v.routes.name } : {}),
                virtualHosts: v.routes?.virtualHosts.length ?? 0,
              })),
            });
            return;
        }
      },
      stop() {
        for (const [port, p] of [...servers]) close(port, p, 0);
        upstreams.close();
        client.close();
        return Promise.resolve();
      },
    };
  };
}
