/**
 * Mesh (GAMMA) routing for one service port: HTTPRoutes/GRPCRoutes whose parentRef is the
 * Service, then a default route to the service itself. Shared by waypoints and proxyless gRPC.
 */
import type { GRPCRoute, HTTPRoute, PlacedResource, Service } from '@shoal/model';
import { attach } from '../gatewayapi/attach.js';
import { httpRouteIR, orderRoutes, type RankedRoute } from '../gatewayapi/httproutes.js';
import type { IRCluster, IRRoute } from '../ir.js';
import type { Memo } from '../memo.js';
import { Names } from '../names.js';
import { Keys } from '../state.js';

export function meshRoutes(
  memo: Memo,
  cluster: string,
  svc: { ns: string; name: string; host: string; port: number },
  clusters: Map<string, IRCluster>,
  proxyless: boolean,
): IRRoute[] {
  const ranked: RankedRoute[] = [];
  for (const route of memo.query(
    Keys.parent(cluster, 'Service', svc.ns, svc.name),
  ) as PlacedResource<HTTPRoute | GRPCRoute>[]) {
    if (route.resource.kind !== 'HTTPRoute' && route.resource.kind !== 'GRPCRoute') continue;
    const routeNs = route.resource.metadata.namespace ?? 'default';
    const applies = (route.resource.spec.parentRefs ?? []).some((ref) => {
      if (
        (ref.kind ?? 'Gateway') !== 'Service' ||
        (ref.namespace ?? routeNs) !== svc.ns ||
        ref.name !== svc.name
      )
        return false;
      if (ref.port !== undefined && ref.port !== svc.port) return false;
      return attach(memo, cluster, route, ref).service !== undefined;
    });
    if (applies) ranked.push(...httpRouteIR(memo, { cluster, clusters }, route));
  }
  const own = Names.outbound(svc.host, svc.port);
  clusters.set(own, { name: own, eds: own });
  const routes = orderRoutes(ranked).filter((r) => !proxyless || r.action.type === 'route');
  const fallback: IRRoute = {
    name: `default/${svc.ns}/${svc.name}/${svc.port}`,
    match: { path: { type: 'Prefix', value: '/' }, headers: [], queryParams: [] },
    action: { type: 'route', backends: [{ cluster: own, eds: own, weight: 1 }], invalidWeight: 0 },
    mirrors: [],
  };
  // A route set by the user on "/" already catches everything; the fallback would be dead.
  if (
    !routes.some(
      (r) =>
        r.match.path?.type === 'Prefix' &&
        r.match.path.value === '/' &&
        r.match.headers.length === 0 &&
        r.match.queryParams.length === 0,
    )
  )
    routes.push(fallback);
  return routes;
}

export function servicePorts(s: Service): number[] {
  return (s.spec.ports ?? []).map((p) => p.port).sort((a, b) => a - b);
}
