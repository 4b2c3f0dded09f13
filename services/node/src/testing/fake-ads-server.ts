/**
 * A test double of the xDS server (FAKE: the real one is services/xds): Delta ADS over mutual
 * TLS, serving whatever the test sets, recording ACKs and NACKs. Enough of the protocol for the
 * node's client: wildcard subscriptions, initial_resource_versions on reconnect, nonces.
 */
import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { adsService, type DeltaRequest, type DeltaResponse } from '../xds/protocol.js';

interface Res {
  readonly name: string;
  readonly version: string;
  readonly value: Uint8Array;
}

export interface AckRecord {
  readonly typeUrl: string;
  readonly nonce: string;
  readonly error?: string;
}

export class FakeAdsServer {
  private server: grpc.Server | undefined;
  private readonly resources = new Map<string, Map<string, Res>>();
  private readonly streams = new Set<{
    call: grpc.ServerDuplexStream<DeltaRequest, DeltaResponse>;
    sent: Map<string, Map<string, string>>;
  }>();
  private nonce = 0;
  private systemVersion = '0';
  readonly acks: AckRecord[] = [];
  readonly requests: DeltaRequest[] = [];
  port = 0;

  constructor(
    private readonly tls: { rootPem: string; certPem: string; keyPem: string },
    private readonly host = '127.0.0.1',
  ) {}

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  async start(port = this.port): Promise<void> {
    const server = new grpc.Server();
    server.addService(adsService().service, {
      deltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaRequest, DeltaResponse>) =>
        this.onStream(call),
    });
    const creds = grpc.ServerCredentials.createSsl(
      Buffer.from(this.tls.rootPem),
      [{ cert_chain: Buffer.from(this.tls.certPem), private_key: Buffer.from(this.tls.keyPem) }],
      true,
    );
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${this.host}:${port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
  }

  /** Kill the server abruptly (control plane crash); start() again on the same port to resume. */
  kill(): void {
    this.server?.forceShutdown();
    this.server = undefined;
    this.streams.clear();
  }

  /** Replace the resources of one type and push the difference to every connected node. */
  set(
    typeUrl: string,
    items: readonly { name: string; value: Uint8Array }[],
    systemVersion: string,
  ): void {
    this.systemVersion = systemVersion;
    const m = new Map<string, Res>();
    for (const i of items) {
      m.set(i.name, {
        ...i,
        version: createHash('sha256').update(i.value).digest('hex').slice(0, 16),
      });
    }
    this.resources.set(typeUrl, m);
    for (const s of this.streams) this.push(s, typeUrl);
  }

  /** Resolves with the ACK/NACK for the next response of this type. */
  nextAck(typeUrl: string, timeoutMs = 5000): Promise<AckRecord> {
    const from = this.acks.length;
    return new Promise((resolve, reject) => {
      const t0 = Date.now();
      const poll = () => {
        const hit = this.acks.slice(from).find((a) => a.typeUrl === typeUrl);
        if (hit) return resolve(hit);
        if (Date.now() - t0 > timeoutMs) return reject(new Error(`no ACK/NACK for ${typeUrl}`));
        setTimeout(poll, 10);
      };
      poll();
    });
  }

  async close(): Promise<void> {
    this.kill();
    await Promise.resolve();
  }

  private onStream(call: grpc.ServerDuplexStream<DeltaRequest, DeltaResponse>): void {
    const s = { call, sent: new Map<string, Map<string, string>>() };
    this.streams.add(s);
    call.on('data', (req: DeltaRequest) => {
      this.requests.push(req);
      if (req.responseNonce) {
        this.acks.push({
          typeUrl: req.typeUrl,
          nonce: req.responseNonce,
          ...(req.errorDetail ? { error: req.errorDetail.message } : {}),
        });
        return;
      }
      // A (re)subscription: what the client already has needs no resend.
      s.sent.set(req.typeUrl, new Map(Object.entries(req.initialResourceVersions ?? {})));
      this.push(s, req.typeUrl);
    });
    call.on('error', () => this.streams.delete(s));
    call.on('end', () => {
      this.streams.delete(s);
      call.end();
    });
  }

  private push(
    s: {
      call: grpc.ServerDuplexStream<DeltaRequest, DeltaResponse>;
      sent: Map<string, Map<string, string>>;
    },
    typeUrl: string,
  ): void {
    const sent = s.sent.get(typeUrl);
    if (!sent) return; // not subscribed (yet)
    const want = this.resources.get(typeUrl) ?? new Map<string, Res>();
    const changed = [...want.values()].filter((r) => sent.get(r.name) !== r.version);
    const removed = [...sent.keys()].filter((n) => !want.has(n));
    if (changed.length === 0 && removed.length === 0 && sent.size > 0) return;
    if (
      changed.length === 0 &&
      removed.length === 0 &&
      want.size === 0 &&
      sent.size === 0 &&
      !this.resources.has(typeUrl)
    )
      return;
    for (const r of changed) sent.set(r.name, r.version);
    for (const n of removed) sent.delete(n);
    s.call.write({
      typeUrl,
      systemVersionInfo: this.systemVersion,
      nonce: String(++this.nonce),
      resources: changed.map((r) => ({
        name: r.name,
        version: r.version,
        resource: { typeUrl, value: Buffer.from(r.value) },
      })),
      removedResources: removed,
    });
  }
}
