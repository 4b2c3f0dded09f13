import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Runner } from './lifecycle.js';

/** A readiness check: resolves when ready, rejects (with a reason) when not. */
export type ReadinessCheck = () => Promise<void>;

/**
 * The health/readiness convention every Shoal process follows, on its admin port:
 *   GET /healthz  200 while the process runs (liveness)
 *   GET /readyz   200 when every registered check passes, else 503 with the failing checks
 *   GET /metrics  Prometheus text format
 * Bound to loopback unless configured otherwise.
 */
export class AdminServer implements Runner {
  readonly name = 'admin';
  readonly registry: Registry;
  private readonly checks = new Map<string, ReadinessCheck>();
  private server: Server | undefined;

  constructor(
    private readonly opts: {
      host?: string;
      port: number;
      service: string;
      defaultMetrics?: boolean;
    },
  ) {
    this.registry = new Registry();
    this.registry.setDefaultLabels({ service: opts.service });
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  addReadinessCheck(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  async readiness(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const results: Record<string, string> = {};
    let ready = true;
    await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          await check();
          results[name] = 'ok';
        } catch (err) {
          ready = false;
          results[name] = (err as Error).message;
        }
      }),
    );
    return { ready, checks: results };
  }

  get address(): { host: string; port: number } {
    const a = this.server?.address() as AddressInfo | null | undefined;
    if (!a) throw new Error('admin server is not listening');
    return { host: a.address, port: a.port };
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const reply = (status: number, type: string, body: string) => {
        res.writeHead(status, { 'content-type': type });
        res.end(body);
      };
      if (req.method !== 'GET') return reply(405, 'text/plain', 'method not allowed\n');
      if (path === '/healthz') return reply(200, 'text/plain', 'ok\n');
      if (path === '/readyz') {
        this.readiness().then(
          (r) => reply(r.ready ? 200 : 503, 'application/json', JSON.stringify(r) + '\n'),
          (err: Error) => reply(500, 'text/plain', `${err.message}\n`),
        );
        return;
      }
      if (path === '/metrics') {
        this.registry.metrics().then(
          (text) => reply(200, this.registry.contentType, text),
          (err: Error) => reply(500, 'text/plain', `${err.message}\n`),
        );
        return;
      }
      reply(404, 'text/plain', 'not found: try /healthz, /readyz or /metrics\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}
