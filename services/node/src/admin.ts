import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/**
 * The node's admin port: /ready (and /readyz) 200 once the node has its certificate and a first
 * config, /healthz, /metrics (Prometheus) and /config_dump (JSON: xDS resources and versions,
 * NACKs, listeners, actor states).
 */
export class NodeAdmin {
  private server: Server | undefined;

  constructor(
    private readonly opts: {
      host: string;
      port: number;
      registry: Registry;
      ready: () => { ready: boolean; reason: string };
      dump: () => Promise<unknown>;
    },
  ) {}

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const reply = (status: number, type: string, body: string) => {
        res.writeHead(status, { 'content-type': type });
        res.end(body);
      };
      const fail = (err: Error) => reply(500, 'text/plain', `${err.message}\n`);
      if (path === '/healthz') return reply(200, 'text/plain', 'ok\n');
      if (path === '/ready' || path === '/readyz') {
        const r = this.opts.ready();
        return reply(r.ready ? 200 : 503, 'text/plain', `${r.reason}\n`);
      }
      if (path === '/metrics') {
        this.opts.registry
          .metrics()
          .then((t) => reply(200, this.opts.registry.contentType, t), fail);
        return;
      }
      if (path === '/config_dump') {
        this.opts
          .dump()
          .then((d) => reply(200, 'application/json', JSON.stringify(d, null, 2) + '\n'), fail);
        return;
      }
      reply(404, 'text/plain', 'not found: try /ready, /metrics or /config_dump\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  }
}
