/**
 * Serve HTTP on already-accepted byte streams (an HBONE tunnel, a TCP socket, a TLS socket):
 * HTTP/1.1 or HTTP/2 with prior knowledge (h2c, gRPC) chosen by sniffing the connection
 * preface, each request handed over with the connection it came through. Shared by the
 * waypoint and the gateway so both speak HTTP the same way.
 */
import http from 'node:http';
import http2, { type ServerHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { ConnInfo } from './proxy.js';

type Handler = (
  conn: ConnInfo,
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
  h2: boolean,
) => void;

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

function isH2(chunk: Buffer): boolean {
  const n = Math.min(chunk.length, H2_PREFACE.length);
  return chunk.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
}

export class HttpDispatcher {
  // Which connection a request came through: h1 requests carry it as req.socket, h2 requests
  // their session (bound while the 'connection' event is being emitted).
  private readonly byConn = new WeakMap<object, ConnInfo>();
  private binding: ConnInfo | undefined;
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;

  constructor(handle: Handler) {
    this.h1 = http.createServer((req, res) => {
      const c = this.byConn.get(req.socket);
      if (c) handle(c, req, res, false);
      else res.destroy();
    });
    this.h1.keepAliveTimeout = 60_000;
    this.h2 = http2.createServer({ settings: { enablePush: false } }, (req, res) => {
      const c = this.byConn.get(req.stream.session as object);
      if (c) handle(c, req, res, true);
      else res.destroy();
    });
    this.h2.on('session', (s: ServerHttp2Session) => {
      if (this.binding) this.byConn.set(s, this.binding);
      s.on('error', () => undefined);
    });
    for (const s of [this.h1, this.h2]) s.on('clientError', () => undefined);
  }

  /**
   * Serve one connection. `asSocket` adapts it for the HTTP/1.1 server when it is not a real
   * socket (an HTTP/2 stream carrying a tunnel).
   */
  serve(conn: Duplex, info: ConnInfo, asSocket: (d: Duplex) => Duplex = (d) => d): void {
    conn.once('data', (chunk: Buffer) => {
      conn.pause();
      conn.unshift(chunk);
      this.byConn.set(conn, info);
      this.binding = info;
      try {
        if (isH2(chunk)) this.h2.emit('connection', conn);
        else this.h1.emit('connection', asSocket(conn));
      } finally {
        this.binding = undefined;
      }
      conn.resume();
    });
  }
}
