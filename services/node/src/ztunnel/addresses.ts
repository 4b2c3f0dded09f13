/**
 * Loopback address plan (everything runs on one machine; 127.0.0.0/8 is all local on Linux):
 *   node i (xDS client, admin)           127.0.10.i
 *   workloads (apps, waypoints)          their own IPs from the workload config, e.g. 127.0.20.x;
 *                                        each gets an HBONE listener on <ip>:15008 on its node
 *   outbound listeners of node i         127.<outboundOctet>.x.y:<service port>, one address per
 *                                        service, x.y derived from a hash of "<ns>/<hostname>"
 * A local app reaches service S by connecting, from its own workload IP, to S's outbound address
 * on its node (the node's /config_dump lists them); that is the stand-in for iptables capture.
 */
export function outboundAddress(outboundOctet: number, serviceKey: string): string {
  let h = 2166136261;
  for (let i = 0; i < serviceKey.length; i++) {
    h ^= serviceKey.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return `127.${outboundOctet}.${(h >>> 8) & 0xff}.${1 + (h % 254)}`;
}

export function splitHostPort(authority: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(authority);
  if (!m) return undefined;
  const port = Number(m[2]);
  return port > 0 && port < 65536 ? { host: m[1]!, port } : undefined;
}
