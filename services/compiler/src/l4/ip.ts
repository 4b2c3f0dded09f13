import { isIPv4 } from '@shoal/model';

/** IPv4 → 4 bytes, IPv6 → 16 bytes (as the workload API carries addresses). */
export function ipBytes(ip: string): Uint8Array {
  if (isIPv4(ip)) return Uint8Array.from(ip.split('.').map(Number));
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const parse = (s: string | undefined) =>
    (s ? s.split(':') : []).flatMap((g) => (g.includes('.') ? v4Groups(g) : [parseInt(g, 16)]));
  const h = parse(head);
  const t = parse(tail);
  const groups =
    tail === undefined ? h : [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

function v4Groups(s: string): number[] {
  const b = s.split('.').map(Number);
  return [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
}

export function cidrBytes(c: string): { address: Uint8Array; length: number } {
  const [ip, len] = c.split('/');
  const address = ipBytes(ip!);
  return { address, length: len !== undefined ? Number(len) : address.length * 8 };
}
