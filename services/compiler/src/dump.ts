/**
 * A human-readable view of compiled output (decoded protobufs, nested Anys expanded, IPs as
 * text): what golden files hold and what `shoal` can show before a rollout.
 */
import { PROXYLESS_NODE, messageType, type XdsResource } from '@shoal/proto';
import type { FleetConfig } from './compiler.js';

const SHORT: Record<string, string> = {
  'type.googleapis.com/shoal.workload.v1.Address': 'Address',
  'type.googleapis.com/shoal.security.v1.Authorization': 'Authorization',
  'type.googleapis.com/envoy.config.listener.v3.Listener': 'Listener',
  'type.googleapis.com/envoy.config.route.v3.RouteConfiguration': 'RouteConfiguration',
  'type.googleapis.com/envoy.config.cluster.v3.Cluster': 'Cluster',
  'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment': 'ClusterLoadAssignment',
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret': 'Secret',
};

function decodeAny(typeUrl: string, value: Uint8Array): unknown {
  const t = messageType(typeUrl);
  const obj = t.toObject(t.decode(value), {
    longs: String,
    enums: String,
    defaults: false,
    bytes: Array,
  });
  return { '@type': typeUrl.slice(typeUrl.lastIndexOf('/') + 1), ...(expand(obj) as object) };
}

function ipText(bytes: number[]): string {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length === 16) {
    const g: string[] = [];
    for (let i = 0; i < 16; i += 2) g.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
    return g.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
  }
  return Buffer.from(bytes).toString('base64');
}

function expand(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) {
    if (v.length > 0 && v.every((x) => typeof x === 'number') && /address|ip/i.test(key))
      return ipText(v as number[]);
    return v.map((x) => expand(x, key));
  }
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.type_url === 'string')
      return decodeAny(o.type_url, Uint8Array.from((o.value as number[] | undefined) ?? []));
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o)) out[k] = expand(o[k], k);
    return out;
  }
  return v;
}

export function dumpResource(r: XdsResource): unknown {
  return {
    type: SHORT[r.typeUrl] ?? r.typeUrl,
    name: r.name,
    value: decodeAny(r.typeUrl, r.value) as Record<string, unknown>,
  };
}

/** Per cluster: version, L4 (once), per node the L7 resource names, L7 bodies once, status. */
export function dumpFleet(out: FleetConfig): unknown {
  const clusters: Record<string, unknown> = {};
  for (const [name, c] of out.clusters) {
    const shared = new Set<string>();
    const l7 = new Map<string, XdsResource>();
    const nodes: Record<string, string[]> = {};
    let l4: XdsResource[] = [];
    for (const [node, b] of c.nodes) {
      if (node === PROXYLESS_NODE) continue;
      const l4Here = b.resources.filter((r) => r.typeUrl.includes('shoal.'));
      if (l4.length === 0) l4 = l4Here;
      for (const r of l4Here) shared.add(`${r.typeUrl} ${r.name}`);
      const own = b.resources.filter((r) => !r.typeUrl.includes('shoal.'));
      for (const r of own) l7.set(`${r.typeUrl} ${r.name}`, r);
      nodes[node] = own.map((r) => `${SHORT[r.typeUrl]}/${r.name}`);
    }
    clusters[name] = {
      version: c.version,
      nodes,
      l4: l4.map(dumpResource),
      l7: [...l7.values()].map(dumpResource),
      proxyless: (c.nodes.get(PROXYLESS_NODE)?.resources ?? []).map(dumpResource),
      status: c.status,
    };
  }
  return { clusters, errors: out.errors };
}
