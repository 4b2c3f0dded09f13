import http2, {
  type Http2SecureServer,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '@shoal/common';
import { H2_SESSION_WINDOW, H2_SETTINGS, peerIdentity, type IdentityCert } from './identity.js';

export interface InboundConnect {
  /** Verified SPIFFE id of the client certificate. */
  readonly peer: string;
  readonly peerAddress: string;
  /** The listener's own IP: the destination workload the client meant (no SNI in HBONE). */
  readonly localIp: string;
  readonly authority: string;
  readonly forwarded?: string;
  readonly headers: http2.IncomingHttpHeaders;
}

export type ConnectHandler = (req: InboundConnect, stream: ServerHttp2Stream) => void;

/**
 * The verified peer identity of a TLS connection, parsed from its certificate once: every
 * CONNECT on a pooled session would otherwise parse the same X.509 certificate again.
 */
const peers = new WeakMap<TLSSocket, string | undefined>();
function sessionPeer(sock: TLSSocket | undefined): string | undefined {
  if (!sock) return undefined;
  if (peers.has(sock)) return peers.get(sock);
  const id = peerIdentity(sock.getPeerCertificate?.(false));
  peers.set(sock, id);
  return id;
}

/**
 * One HBONE listener (ip:15008) presenting one workload's certificate. Like ztunnel, which picks
 * the certificate by the connection's original destination (HBONE carries no SNI), the node runs
 * a listener per local workload IP, so the destination identity is known before the handshake.
 * Rotating the certificate swaps the TLS context for new connections only.
 */
export class HboneListener {
  private server: Http2SecureServer | undefined;
  private readonly sessions = new Set<ServerHttp2Session>();

  constructor(
    private readonly opts: {
      readonly host: string;
      readonly port: number;
      readonly logger: Logger;
      readonly onConnect: ConnectHandler;
    },
    private cert: IdentityCert,
    private trustBundlePem: string,
  ) {}

  get identity(): string {
    return this.cert.spiffeId;
  }

  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  private tlsOptions() {
    return {
      cert: this.cert.certChainPem,
      key: this.cert.keyPem,
      ca: this.trustBundlePem,
      requestCert: true,
      rejectUnauthorized: true,
    };
  }

  async start(): Promise<void> {
    const server = http2.createSecureServer({
      ...this.tlsOptions(),
      ALPNProtocols: ['h2'],
      allowHTTP1: false,
      settings: H2_SETTINGS,
    });
    server.on('session', (session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      session.on('error', () => undefined);
      session.once('connect', () => session.setLocalWindowSize(H2_SESSION_WINDOW));
      if (!session.connecting) session.setLocalWindowSize(H2_SESSION_WINDOW);
    });
    server.on('tlsClientError', (err) =>
      this.opts.logger.debug({ err: err.message }, 'HBONE TLS handshake failed'),
    );
    server.on('stream', (stream, headers) => {
      stream.on('error', () => undefined);
      if (headers[':method'] !== 'CONNECT') {
        stream.respond({ ':status': 405 }, { endStream: true });
        return;
      }
      const sock = stream.session?.socket as TLSSocket | undefined;
      const peer = sessionPeer(sock);
      if (!peer) {
        stream.respond({ ':status': 401 }, { endStream: true });
        return;
      }
      const fwd = headers.forwarded;
      this.opts.onConnect(
        {
          peer,
          peerAddress: `${sock?.remoteAddress ?? ''}:${sock?.remotePort ?? 0}`,
          localIp: this.opts.host,
          authority: String(headers[':authority'] ?? ''),
          ...(typeof fwd === 'string' ? { forwarded: fwd } : {}),
          headers,
        },
        stream,
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** New certificate for new handshakes; established sessions keep theirs. */
  updateCert(cert: IdentityCert, trustBundlePem: string): void {
    this.cert = cert;
    this.trustBundlePem = trustBundlePem;
    this.server?.setSecureContext(this.tlsOptions());
  }

  /** Stop accepting; let open tunnels finish for up to `graceMs`, then cut them. */
  async close(graceMs = 0): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    const closed = new Promise<void>((r) => s.close(() => r()));
    for (const sess of this.sessions) sess.close();
    const t = setTimeout(() => {
      for (const sess of this.sessions) sess.destroy();
    }, graceMs);
    await closed;
    clearTimeout(t);
  }
}
