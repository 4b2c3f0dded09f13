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
  const target = splitHostPort(req.authority);
  const w = state.workloadsByIp.get(req.localIp);
  const service = w ? ([...w.services.keys()][0] ?? w.uid) : 'unknown';
  const fail = (status: number, reason: string) => {
    stats.connection('inbound', service, status >= 500 ? 'error' : 'denied');
    logger.info(
      { peer: req.peer, authority: req.authority, status, reason },
      'inbound CONNECT refused',
    );
    if (!stream.destroyed) stream.respond({ ':status': status }, { endStream: true });
  };
  if (!target || target.host !== req.localIp || !w) {
    return fail(400, `:authority ${req.authority} is not a workload behind ${req.localIp}`);
  }
  const decision = authorize(state, w, {
    sourceIdentity: req.peer,
    sourceIp: sourceIp(req),
    destinationIp: target.host,
    destinationPort: target.port,
  });
  if (!decision.allow) return fail(401, decision.reason);
  const upstream = net.connect({ host: target.host, port: target.port });
  upstream.setNoDelay(true);
  upstream.once('error', (err) => {
    if (!stream.headersSent) fail(503, `dial ${req.authority}: ${err.message}`);
  });
  upstream.once('connect', () => {
    if (stream.destroyed) return upstream.destroy();
    stream.respond({ ':status': 200 });
    stats.connection('inbound', service, 'ok');
    stats.latency('inbound', service, performance.now() - t0);
    void splice(stream, upstream);
  });
}
