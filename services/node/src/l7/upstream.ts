/**
 * The waypoint's upstream side: HTTP/1.1 keep-alive agents and HTTP/2 sessions per endpoint,
 * each connection an HBONE tunnel (CONNECT over mTLS with the waypoint's identity, pooled per
 * destination by the shared HboneClient) to the endpoint's node. Endpoints that are not in the
 * mesh (no HBONE) are dialled in plain TCP.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import http2, { type ClientHttp2Session } from 'node:http2';
import net from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type { Logger } from '@shoal/common';
import type { HboneClient } from '../hbone/client.js';
import type { IdentityCert } from '../hbone/identity.js';
import type { Headers } from './router.js';

export interface UpstreamTarget {
  readonly ip: string;
  readonly port: number;
  /** SPIFFE id the endpoint's HBONE server must present; undefined: not in the mesh. */
  readonly identity?: string;
}

export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly headers: Headers;
  /** Buffered (retries, mirrors) or streamed body. */
  readonly body: Buffer | Readable;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Readable;
  trailers(): Headers | undefined;
  abort(): void;
}

export type FailureKind = 'connect' | 'reset' | 'timeout';

export class UpstreamFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Make an HTTP/2 stream usable as the socket of an HTTP/1.1 client or server. */
export function socketLike(s: Duplex): Duplex {
  const x = s as Duplex & Record<string, unknown>;
  x.setKeepAlive ??= () => s;
  x.setNoDelay ??= () => s;
  x.ref ??= () => s;
  x.unref ??= () => s;
  // http.ClientRequest corks and writes its header (a latin1 string) and a body together; an
  // Http2Stream's writev of mixed string/buffer chunks sent corrupted header bytes (Node 20).
  // One chunk at a time through _write is correct.
  (x as { _writev: unknown })._writev = null;
  return s;
}

export class Upstreams {
  private readonly agents = new Map<string, http.Agent>();
  private readonly sessions = new Map<string, Promise<ClientHttp2Session>>();
  private closed = false;

  constructor(
    private readonly opts: {
      readonly client: HboneClient;
      /** The waypoint's current certificate and trust bundle. */
      readonly source: () => { cert: IdentityCert; trustBundlePem: string } | undefined;
      readonly logger: Logger;
      /**
       * The same-node path: a connection to the endpoint when it is a workload of this node
       * (inbound checks done in process, see ztunnel/inbound.ts dialLocal), else undefined.
       */
      readonly local?: (t: UpstreamTarget) => Promise<Duplex> | undefined;
    },
  ) {}

  private key(t: UpstreamTarget): string {
    return `${t.ip}:${t.port}|${t.identity ?? 'plain'}`;
  }

  /** A connection to an endpoint in the mesh: same-node when it is local, else HBONE. */
  private async tunnel(t: UpstreamTarget): Promise<Duplex> {
    if (!t.identity) throw new UpstreamFailure('connect', `${t.ip}:${t.port} is not in the mesh`);
    const local = this.opts.local?.(t);
    if (local) {
      try {
        return await local;
      } catch (err) {
        throw new UpstreamFailure('connect', (err as Error).message, { cause: err });
      }
    }
    return this.hbone(t, t.identity);
  }

  private async hbone(t: UpstreamTarget, identity: string): Promise<Duplex> {
    const src = this.opts.source();
    if (!src) throw new UpstreamFailure('connect', 'the waypoint has no certificate yet');
    try {
      return await this.opts.client.connect({
        source: src.cert,
        trustBundlePem: src.trustBundlePem,
        destinationIdentity: identity,
        proxyHost: t.ip,
        proxyPort: 15008,
        authority: `${t.ip}:${t.port}`,
        connectTimeoutMs: 3000,
      });
    } catch (err) {
      throw new UpstreamFailure('connect', (err as Error).message, { cause: err });
    }
  }

  private agent(t: UpstreamTarget): http.Agent {
    const key = this.key(t);
    let a = this.agents.get(key);
    if (a) return a;
    a = new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 128 });
    if (t.identity) {
      // Agent calls createConnection(options, callback); answering through the callback lets
      // the connection be the (asynchronously opened) HBONE tunnel.
      (a as unknown as { createConnection: unknown }).createConnection = (
        _o: unknown,
        cb: (err: Error | null, s?: Duplex) => void,
      ) => {
        this.tunnel(t).then(
          (s) => cb(null, s instanceof net.Socket ? s : socketLike(s)),
          (err: Error) => cb(err),
        );
        return undefined;
      };
    }
    this.agents.set(key, a);
    return a;
  }

  private session(t: UpstreamTarget): Promise<ClientHttp2Session> {
    const key = this.key(t);
    const have = this.sessions.get(key);
    if (have) return have;
    const p = (async () => {
      const conn = t.identity ? await this.tunnel(t) : undefined;
      const s = http2.connect(
        `http://${t.ip}:${t.port}`,
        conn ? { createConnection: () => conn } : {},
      );
      const drop = () => {
        if (this.sessions.get(key) === p) this.sessions.delete(key);
      };
      s.on('error', (err) => {
        drop();
        this.opts.logger.debug({ err: err.message, key }, 'upstream h2 session error');
      });
      s.once('close', drop);
      s.once('goaway', drop);
      return s;
    })();
    p.catch(() => {
      if (this.sessions.get(key) === p) this.sessions.delete(key);
    });
    this.sessions.set(key, p);
    return p;
  }

  /** Send one request; resolves at the response headers, rejects with an UpstreamFailure. */
  async send(
    t: UpstreamTarget,
    h2: boolean,
    req: UpstreamRequest,
    timeoutMs: number,
  ): Promise<UpstreamResponse> {
    if (this.closed) throw new UpstreamFailure('connect', 'waypoint is stopping');
    return h2 ? this.sendH2(t, req, timeoutMs) : this.sendH1(t, req, timeoutMs);
  }

  private sendH1(
    t: UpstreamTarget,
    req: UpstreamRequest,
    timeoutMs: number,
  ): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      let connected = false;
      const r = http.request({
        agent: this.agent(t),
        host: t.ip,
        port: t.port,
        method: req.method,
        path: req.path,
        headers: { ...(req.headers as IncomingHttpHeaders), host: req.authority },
        setHost: false,
      });
      const timer = setTimeout(
        () => r.destroy(new UpstreamFailure('timeout', `no response within ${timeoutMs} ms`)),
        timeoutMs,
      );
      r.once('socket', () => (connected = true));
      r.once('response', (res) => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 502,
          headers: res.headers,
          body: res,
          trailers: () => (Object.keys(res.trailers).length > 0 ? res.trailers : undefined),
          abort: () => r.destroy(),
        });
      });
      r.once('error', (err) => {
        clearTimeout(timer);
        if (err instanceof UpstreamFailure) return reject(err);
        reject(new UpstreamFailure(connected ? 'reset' : 'connect', err.message, { cause: err }));
      });
      if (Buffer.isBuffer(req.body)) r.end(req.body.length > 0 ? req.body : undefined);
      else req.body.pipe(r);
    });
  }

  private async sendH2(
    t: UpstreamTarget,
    req: UpstreamRequest,
    timeoutMs: number,
  ): Promise<UpstreamResponse> {
    let session: ClientHttp2Session;
    try {
      session = await this.session(t);
    } catch (err) {
      throw err instanceof UpstreamFailure
        ? err
        : new UpstreamFailure('connect', (err as Error).message, { cause: err });
    }
    return new Promise((resolve, reject) => {
      let trailers: Headers | undefined;
      const empty = Buffer.isBuffer(req.body) && req.body.length === 0;
      const s = session.request(
        {
          ...req.headers,
          ':method': req.method,
          ':path': req.path,
          ':authority': req.authority,
          ':scheme': 'http',
        },
        // No body: END_STREAM on the HEADERS frame, as the client sent it.
        { endStream: empty },
      );
      const timer = setTimeout(() => {
        s.close(http2.constants.NGHTTP2_CANCEL);
        reject(new UpstreamFailure('timeout', `no response within ${timeoutMs} ms`));
      }, timeoutMs);
      s.on('trailers', (h) => (trailers = h));
      s.once('response', (h) => {
        clearTimeout(timer);
        const headers: Headers = {};
        for (const [k, v] of Object.entries(h)) if (!k.startsWith(':')) headers[k] = v;
        resolve({
          status: Number(h[':status'] ?? 502),
          headers,
          body: s,
          trailers: () => trailers,
          abort: () => s.close(http2.constants.NGHTTP2_CANCEL),
        });
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(new UpstreamFailure('reset', err.message, { cause: err }));
      });
      s.once('close', () => {
        clearTimeout(timer);
        reject(new UpstreamFailure('reset', `stream closed (code ${s.rstCode})`));
      });
      if (empty) return;
      if (Buffer.isBuffer(req.body)) s.end(req.body);
      else req.body.pipe(s);
    });
  }

  close(): void {
    this.closed = true;
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
    for (const p of this.sessions.values())
      void p.then(
        (s) => s.destroy(),
        () => undefined,
      );
    this.sessions.clear();
  }
}
