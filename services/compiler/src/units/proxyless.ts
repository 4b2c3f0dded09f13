/**
 * Proxyless gRPC (grpc-js-xds) config for one service as seen from one cluster: for each port
 * an API Listener named "<host>:<port>" (and "<host>" for the lowest port) whose HCM uses RDS
 * over ADS, a RouteConfiguration with weighted clusters, EDS Clusters and their endpoints.
 */
import { TypeUrls, type XdsResource } from '@shoal/proto';
import { clusterInfo, serviceDefs } from '../gatewayapi/context.js';
import type { IRCluster } from '../ir.js';
import type { Memo } from '../memo.js';
import { Names } from '../names.js';
import { Keys } from '../state.js';
import { backendResources } from '../xds/backends.js';
import { resource } from '../xds/encode.js';
import { proxylessHcm, routeConfiguration } from '../xds/http.js';
import { meshRoutes, servicePorts } from './mesh.js';

export interface ProxylessOutput {
  readonly resources: readonly XdsResource[];
}

export function proxylessUnit(
  memo: Memo,
  cluster: string,
  ns: string,
  name: string,
): ProxylessOutput {
  return memo.unit(`proxyless|${cluster}|${ns}|${name}`, () => {
    const domain = clusterInfo(memo, cluster).domain;
    const hasRoutes = memo.query(Keys.parent(cluster, 'Service', ns, name)).length > 0;
    // Without mesh routes in this cluster the output depends only on the service: share it.
    return hasRoutes
      ? build(memo, cluster, ns, name, domain)
      : memo.unit(`proxyless-default|${domain}|${ns}|${name}`, () =>
          build(memo, undefined, ns, name, domain),
        );
  });
}

function build(
  memo: Memo,
  cluster: string | undefined,
  ns: string,
  name: string,
  domain: string,
): ProxylessOutput {
  const def = serviceDefs(memo, ns, name)[0];
  if (!def) return { resources: [] };
  const host = Names.serviceHost(ns, name, domain);
  const clusters = new Map<string, IRCluster>();
  const out: XdsResource[] = [];
  const ports = servicePorts(def.resource);
  ports.forEach((port, i) => {
    const rc = Names.proxylessRoute(host, port);
    const routes =
      cluster === undefined
        ? meshRoutes(memo, '', { ns, name, host, port }, clusters, true)
        : meshRoutes(memo, cluster, { ns, name, host, port }, clusters, true);
    const domains = i === 0 ? [host, `${host}:${port}`] : [`${host}:${port}`];
    out.push(
      resource(
        TypeUrls.route,
        rc,
        routeConfiguration(rc, [{ name: `${host}:${port}`, domains, routes }], true),
      ),
    );
    const hcm = proxylessHcm(rc);
    for (const lname of i === 0 ? [host, `${host}:${port}`] : [`${host}:${port}`])
      out.push(
        resource(TypeUrls.listener, lname, { name: lname, apiListener: { apiListener: hcm } }),
      );
  });
  out.push(...backendResources(memo, clusters));
  return { resources: out };
}
