import net from 'node:net';
import type { ServerHttp2Stream } from 'node:http2';
import type { Logger } from '@shoal/common';
import { authorize } from '../l4/authz.js';
import type { L4State } from '../l4/model.js';
import type { InboundConnect } from '../hbone/server.js';
import { splice } from '../hbone/tunnel.js';
import type { DataplaneStats } from '../stats.js';
import { splitHostPort } from './addresses.js';

/** Source address from `forwarded: for="ip:port"`, else the TLS peer's address. */
export function sourceIp(req: InboundConnect): string {
  const m = /for="?\[?([0-9a-fA-F.:]+?)\]?(?::\d+)?"?(?:;|,|$)/.exec(req.forwarded ?? '');
  return m?.[1] ?? req.peerAddress.replace(/:\d+$/, '');
}

/** A connection to a workload of this node, before the workload is dialled. */
export interface InboundAttempt {
  /** Verified SPIFFE id of the source (a TLS peer, or a proxy of this node). */
  readonly peer: string;
  readonly sourceIp: string;
  /** The workload address the source meant (`ip:port`). */
  readonly authority: string;
  /** The IP the connection arrived for (the HBONE listener's, or the local dial's target). */
  readonly localIp: string;
}

export type Admission =
  | { readonly ok: true; readonly service: string; readonly host: string; readonly port: number }
  | {
      readonly ok: false;
      readonly status: number;
      readonly reason: string;
      readonly service: string;
    };

/**
 * The inbound checks of the ztunnel role, shared by HBONE inbound and the same-node path of
 * this node's proxies: the target is a workload behind the address it arrived for, and L4
 * policy (with the waypoint rule) allows the source.
 */
export function admitInbound(state: L4State, a: InboundAttempt): Admission {
  const target = splitHostPort(a.authority);
  const w = state.workloadsByIp.get(a.localIp);
  const service = w ? ([...w.services.keys()][0] ?? w.uid) : 'unknown';
  if (!target || target.host !== a.localIp || !w) {
    return {
      ok: false,
      status: 400,
      reason: `:authority ${a.authority} is not a workload behind ${a.localIp}`,
      service,
    };
  }
  const decision = authorize(state, w, {
    sourceIdentity: a.peer,
    sourceIp: a.sourceIp,
    destinationIp: target.host,
    destinationPort: target.port,
  });
  if (!decision.allow) return { ok: false, status: 401, reason: decision.reason, service };
  return { ok: true, service, host: target.host, port: target.port };
}

/**
 * The ztunnel inbound path for one CONNECT: check the target is this listener's workload,
 * authorize (L4 policy and the waypoint rule), dial the workload, answer 200 and splice.
 */
export function handleInbound(
  state: L4State,
  req: InboundConnect,
  stream: ServerHttp2Stream,
  logger: Logger,
  stats: DataplaneStats,
): void {
  const t0 = performance.now();
  const a = admitInbound(state, { ...req, sourceIp: sourceIp(req) });
  const fail = (status: number, reason: string) => {
    stats.connection('inbound', a.service, status >= 500 ? 'error' : 'denied');
    logger.info(
      { peer: req.peer, authority: req.authority, status, reason },
      'inbound CONNECT refused',
    );
    if (!stream.destroyed) stream.respond({ ':status': status }, { endStream: true });
  };
  if (!a.ok) return fail(a.status, a.reason);
  const upstream = net.connect({ host: a.host, port: a.port });
  upstream.setNoDelay(true);
  upstream.once('error', (err) => {
    if (!stream.headersSent) fail(503, `dial ${req.authority}: ${err.message}`);
  });
  upstream.once('connect', () => {
    if (stream.destroyed) return upstream.destroy();
    stream.respond({ ':status': 200 });
    stats.connection('inbound', a.service, 'ok');
    stats.latency('inbound', a.service, performance.now() - t0);
    void splice(stream, upstream);
  });
}

/**
 * The same-node path: a proxy of this node (waypoint, gateway) reaching a workload of this
 * node. HBONE would take the bytes through TLS and HTTP/2 framing twice inside this one process
 * and prove nothing new: the proxy's identity is the node's own record, not a peer's claim.
 * So the inbound checks run here, with the proxy as the verified source, and the workload is
 * dialled directly. Resolves with the connected socket; rejects with the reason (a refusal
 * counts as an inbound denial, as it would have over HBONE).
 */
export function dialLocal(
  state: L4State,
  a: InboundAttempt,
  stats: DataplaneStats,
  logger: Logger,
): Promise<net.Socket> {
  const t0 = performance.now();
  const adm = admitInbound(state, a);
  if (!adm.ok) {
    stats.connection('inbound', adm.service, adm.status >= 500 ? 'error' : 'denied');
    logger.info(
      { peer: a.peer, authority: a.authority, status: adm.status, reason: adm.reason },
      'same-node connection refused',
    );
    return Promise.reject(new Error(`refused (${adm.status}): ${adm.reason}`));
  }
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: adm.host, port: adm.port });
    sock.setNoDelay(true);
    const onError = (err: Error) => {
      stats.connection('inbound', adm.service, 'error');
      reject(new Error(`dial ${a.authority}: ${err.message}`));
    };
    sock.once('error', onError);
    sock.once('connect', () => {
      stats.connection('inbound', adm.service, 'ok');
      stats.latency('inbound', adm.service, performance.now() - t0);
      // From here the user of the socket (an HTTP agent or session) sees its errors.
      sock.off('error', onError);
      sock.on('error', () => undefined);
      resolve(sock);
    });
  });
}

/**
 * The `local` dialer of a proxy hosted on this node (see Upstreams): dialLocal for endpoints
 * that are HBONE workloads of this node, undefined (go through HBONE) for all others, and for
 * an endpoint whose claimed identity is not the one this node's state gives it.
 */
export function sameNodeDialer(o: {
  readonly self: { readonly cluster: string; readonly node: string };
  /** The node's L4 state as the proxy's current view has it. */
  readonly l4: () => L4State;
  /** The proxy's own workload identity and address: the source the inbound checks see. */
  readonly identity: string;
  readonly ip: string;
  readonly stats: DataplaneStats;
  readonly logger: Logger;
}): (t: { ip: string; port: number; identity?: string }) => Promise<net.Socket> | undefined {
  return (t) => {
    const state = o.l4();
    const w = state.workloadsByIp.get(t.ip);
    if (!w || !w.hbone || w.node !== o.self.node) return undefined;
    if (w.cluster !== '' && w.cluster !== o.self.cluster) return undefined;
    if (t.identity !== w.identity) return undefined;
    return dialLocal(
      state,
      { peer: o.identity, sourceIp: o.ip, authority: `${t.ip}:${t.port}`, localIp: t.ip },
      o.stats,
      o.logger,
    );
  };
}
