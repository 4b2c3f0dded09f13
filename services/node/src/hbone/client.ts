import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import tls from 'node:tls';
import type { Logger } from '@shoal/common';
import { TunnelError } from '../errors.js';
import { H2_SESSION_WINDOW, H2_SETTINGS, peerIdentity, type IdentityCert } from './identity.js';

export interface TunnelRequest {
  readonly source: IdentityCert;
  readonly trustBundlePem: string;
  /** The identity the peer must prove (destination workload or waypoint). */
  readonly destinationIdentity: string;
  /** Where the HBONE server listens (destination workload ip, or waypoint ip, and 15008). */
  readonly proxyHost: string;
  readonly proxyPort: number;
  /** `:authority` of the CONNECT: the destination ip:port. */
  readonly authority: string;
  /** Original client address for the `forwarded` header. */
  readonly forwardedFor?: string;
  readonly connectTimeoutMs?: number;
}

interface PoolEntry {
  readonly session: ClientHttp2Session;
  readonly generation: number;
  readonly ready: Promise<void>;
}

/**
 * HBONE client: HTTP/2 CONNECT over mutual TLS. Sessions are pooled per (source identity,
 * destination identity, proxy address) as Istio's ztunnel does, so many tunnels share one TLS
 * connection as separate streams. A renewed source certificate opens new sessions; old ones
 * drain (no new streams, existing streams run to completion).
 */
export class HboneClient {
  private readonly pool = new Map<string, PoolEntry>();
  private closed = false;

  constructor(private readonly logger: Logger) {}

  /** Pool keys "<source id>|<destination id>|<proxy ip:port>" of the live sessions. */
  sessionKeys(): string[] {
    return [...this.pool.keys()];
  }

  /** Open a tunnel; resolves once the peer answered 200. */
  async connect(req: TunnelRequest): Promise<ClientHttp2Stream> {
    const entry = this.session(req);
    const timeoutMs = req.connectTimeoutMs ?? 5000;
    const dest = `${req.authority} via ${req.proxyHost}:${req.proxyPort}`;
    await withTimeout(
      entry.ready,
      timeoutMs,
      () => new TunnelError(dest, `TLS/HTTP2 handshake took over ${timeoutMs} ms`),
    );
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'CONNECT',
      ':authority': req.authority,
    };
    if (req.forwardedFor) headers.forwarded = `for="${req.forwardedFor}"`;
    const stream = entry.session.request(headers, { endStream: false });
    return new Promise<ClientHttp2Stream>((resolve, reject) => {
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(new TunnelError(dest, `no response within ${timeoutMs} ms`));
      }, timeoutMs);
      stream.once('response', (h) => {
        clearTimeout(timer);
        const status = Number(h[':status']);
        if (status === 200) return resolve(stream);
        stream.close();
        reject(new TunnelError(dest, `peer answered ${status}`));
      });
      stream.once('error', (err) => {
        clearTimeout(timer);
        reject(new TunnelError(dest, err.message, err));
      });
      stream.once('close', () => {
        clearTimeout(timer);
        reject(new TunnelError(dest, `stream closed (code ${stream.rstCode ?? '?'})`));
      });
    });
  }

  /** Stop handing out sessions of older certificates of `identity`; they drain gracefully. */
  rotate(identity: string, generation: number): void {
    for (const [key, e] of this.pool) {
      if (key.startsWith(`${identity}|`) && e.generation < generation) {
        this.pool.delete(key);
        e.session.close();
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const e of this.pool.values()) e.session.destroy();
    this.pool.clear();
  }

  private session(req: TunnelRequest): PoolEntry {
    if (this.closed) throw new TunnelError(req.authority, 'client is closed');
    const key = `${req.source.spiffeId}|${req.destinationIdentity}|${req.proxyHost}:${req.proxyPort}`;
    const have = this.pool.get(key);
    if (
      have &&
      !have.session.closed &&
      !have.session.destroyed &&
      have.generation === req.source.generation
    ) {
      return have;
    }
    const want = req.destinationIdentity;
    const session = http2.connect(`https://${req.proxyHost}:${req.proxyPort}`, {
      settings: H2_SETTINGS,
      createConnection: () =>
        tls.connect({
          host: req.proxyHost,
          port: req.proxyPort,
          // HBONE sends no SNI: the server picks its certificate by destination address.
          servername: '',
          ALPNProtocols: ['h2'],
          ca: req.trustBundlePem,
          cert: req.source.certChainPem,
          key: req.source.keyPem,
          // The chain is verified by TLS; the name check is the SPIFFE id, not a hostname.
          checkServerIdentity: (_h, cert) => {
            const got = peerIdentity(cert);
            return got === want
              ? undefined
              : new Error(`peer presented ${got ?? 'no SPIFFE id'}, expected ${want}`);
          },
        }),
    });
    const ready = new Promise<void>((resolve, reject) => {
      session.once('connect', () => {
        session.setLocalWindowSize(H2_SESSION_WINDOW);
        resolve();
      });
      session.once('error', (err) => reject(new TunnelError(key, err.message, err)));
      session.once('close', () =>
        reject(new TunnelError(key, 'session closed before it was ready')),
      );
    });
    ready.catch(() => undefined);
    const entry: PoolEntry = { session, generation: req.source.generation, ready };
    session.on('error', (err) =>
      this.logger.debug({ err: err.message, key }, 'HBONE session error'),
    );
    session.once('close', () => {
      if (this.pool.get(key) === entry) this.pool.delete(key);
    });
    session.once('goaway', () => {
      if (this.pool.get(key) === entry) this.pool.delete(key);
    });
    this.pool.set(key, entry);
    return entry;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, err: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(err()), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
