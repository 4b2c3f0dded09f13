import net from 'node:net';
import type { Logger } from '@shoal/common';
import type { HboneClient } from '../hbone/client.js';
import type { CertSet } from '../hbone/identity.js';
import { splice } from '../hbone/tunnel.js';
import { endpointsOf, type L4State, type ServiceInfo, type WorkloadInfo } from '../l4/model.js';
import type { DataplaneStats } from '../stats.js';

export interface OutboundRoute {
  readonly proxyHost: string;
  readonly proxyPort: number;
  readonly authority: string;
  readonly identity: string;
  /** The destination speaks HBONE; otherwise connect in plain TCP. */
  readonly hbone: boolean;
}

/**
 * Pure: where a connection from a local workload to service `svc` on `port` goes: to the
 * service's waypoint when it has one (authority = the service VIP, as Istio does), else to one
 * healthy endpoint (round robin by `pick`).
 */
export function routeOutbound(
  state: L4State,
  svc: ServiceInfo,
  port: number,
  pick: number,
): OutboundRoute | undefined {
  if (svc.waypoint) {
    const wp = svc.waypoint;
    let w: WorkloadInfo | undefined;
    if (wp.ip) w = state.workloadsByIp.get(wp.ip);
    else {
      const eps = endpointsOf(state, wp.service ?? '');
      w = eps[pick % Math.max(1, eps.length)]?.w;
    }
    if (!w) return undefined;
    const vip = svc.vips[0] ?? w.ips[0]!;
    return {
      proxyHost: wp.ip ?? w.ips[0]!,
      proxyPort: wp.port,
      authority: `${vip}:${port}`,
      identity: w.identity,
      hbone: true,
    };
  }
  const eps = endpointsOf(state, svc.key);
  if (eps.length === 0) return undefined;
  const ep = eps[pick % eps.length]!;
  const target = ep.ports.find((p) => p.servicePort === port)?.targetPort ?? port;
  const ip = ep.w.ips[0]!;
  return {
    proxyHost: ip,
    proxyPort: 15008,
    authority: `${ip}:${target}`,
    identity: ep.w.identity,
    hbone: ep.w.hbone,
  };
}

export interface OutboundDeps {
  readonly state: () => L4State;
  readonly certs: () => CertSet;
  readonly client: HboneClient;
  readonly logger: Logger;
  readonly stats: DataplaneStats;
  readonly isLocal: (w: WorkloadInfo) => boolean;
}

let rr = 0;

/** Handle one connection accepted on the outbound listener of `serviceKey`:`port`. */
export function handleOutbound(
  deps: OutboundDeps,
  serviceKey: string,
  port: number,
  sock: net.Socket,
): void {
  const t0 = performance.now();
  sock.pause();
  sock.setNoDelay(true);
  sock.on('error', () => undefined);
  const state = deps.state();
  const svc = state.services.get(serviceKey);
  const src = state.workloadsByIp.get(sock.remoteAddress?.replace(/^::ffff:/, '') ?? '');
  const refuse = (reason: string) => {
    deps.stats.connection('outbound', serviceKey, 'error');
    deps.logger.info(
      { service: serviceKey, port, from: sock.remoteAddress, reason },
      'outbound connection refused',
    );
    sock.destroy();
  };
  if (!svc) return refuse('service is no longer in the config');
  if (!src || !deps.isLocal(src))
    return refuse('the source address is not a workload on this node');
  const route = routeOutbound(state, svc, port, rr++);
  if (!route) return refuse('no healthy endpoint and no waypoint');
  if (!route.hbone) {
    const up = net.connect({
      host: route.authority.replace(/:\d+$/, ''),
      port: Number(route.authority.split(':').pop()),
    });
    up.once('connect', () => {
      deps.stats.connection('outbound', serviceKey, 'ok');
      void splice(sock, up);
    });
    up.once('error', (err) => refuse(`dial ${route.authority}: ${err.message}`));
    return;
  }
  const certs = deps.certs();
  const cert = certs.byIdentity.get(src.identity);
  if (!cert) return refuse(`no certificate for ${src.identity} yet`);
  deps.client
    .connect({
      source: cert,
      trustBundlePem: certs.trustBundlePem,
      destinationIdentity: route.identity,
      proxyHost: route.proxyHost,
      proxyPort: route.proxyPort,
      authority: route.authority,
      forwardedFor: `${sock.remoteAddress}:${sock.remotePort}`,
    })
    .then(
      (tunnel) => {
        if (sock.destroyed) return tunnel.close();
        deps.stats.connection('outbound', serviceKey, 'ok');
        deps.stats.latency('outbound', serviceKey, performance.now() - t0);
        void splice(sock, tunnel).then(() => undefined);
      },
      (err: Error) => refuse(err.message),
    );
}
