import { createServer, request, type Server } from 'node:http';
import { outboundAddress } from '@shoal/node';

/** A sample app instance: an HTTP server on its workload's own loopback address. */
export interface AppSpec {
  readonly workload: string;
  readonly app: 'web' | 'reviews';
  readonly version: string;
  readonly address: string;
  readonly port: number;
  /** The outbound octet of the node the workload runs on (its ztunnel's listener range). */
  readonly outboundOctet: number;
}

const REVIEWS_KEY = 'shop/reviews.shop.svc.cluster.local';

/**
 * web: `/` answers who it is; `/reviews` calls the reviews service the way a meshed app does:
 * from its own address to its node's ztunnel (the outbound listener for reviews), which tunnels
 * over HBONE to the reviews waypoint (JWT, split, retries) and on to a reviews workload.
 * reviews: answers who it is (v1 or v2).
 */
export async function startApp(spec: AppSpec): Promise<Server> {
  const server = createServer((req, res) => {
    const me = `${spec.app} ${spec.version} (${spec.workload})`;
    if (spec.app === 'web' && req.url?.startsWith('/reviews')) {
      const up = request(
        {
          host: outboundAddress(spec.outboundOctet, REVIEWS_KEY),
          port: 9080,
          localAddress: spec.address,
          path: '/reviews',
          headers: {
            host: 'reviews.shop.svc.cluster.local:9080',
            ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
          },
          timeout: 5000,
        },
        (upRes) => {
          let body = '';
          upRes.setEncoding('utf8');
          upRes.on('data', (c: string) => (body += c));
          upRes.on('end', () => {
            res.writeHead(upRes.statusCode ?? 502, { 'content-type': 'text/plain' });
            res.end(`${me} -> ${body.trim()}\n`);
          });
        },
      );
      up.on('timeout', () => up.destroy(new Error('timeout')));
      up.on('error', (err) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`${me} -> reviews unreachable: ${err.message}\n`);
      });
      up.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'x-served-by': spec.workload });
    res.end(`${me}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(spec.port, spec.address, () => resolve());
  });
  return server;
}
