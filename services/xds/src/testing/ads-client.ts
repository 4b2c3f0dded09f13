/**
 * A minimal ADS client for tests: one SotW or Delta stream over @grpc/grpc-js (mutual TLS or
 * plaintext), with a queue of received responses and the final status.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_INCLUDE_DIRS } from '@shoal/proto';

export interface WireResource {
  type_url: string;
  value: Buffer;
}

export interface SotwResponseMsg {
  version_info: string;
  resources: WireResource[];
  type_url: string;
  nonce: string;
}

export interface DeltaResponseMsg {
  system_version_info: string;
  resources: { name: string; version: string; resource: WireResource }[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
}

type ClientCtor = new (
  addr: string,
  creds: grpc.ChannelCredentials,
  opts?: grpc.ClientOptions,
) => grpc.Client & {
  StreamAggregatedResources(): grpc.ClientDuplexStream<unknown, unknown>;
  DeltaAggregatedResources(): grpc.ClientDuplexStream<unknown, unknown>;
};

let ctor: ClientCtor | undefined;
function adsClientCtor(): ClientCtor {
  if (ctor) return ctor;
  const def = protoLoader.loadSync('envoy/service/discovery/v3/ads.proto', {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [...PROTO_INCLUDE_DIRS],
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: ClientCtor } } } };
  };
  ctor = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService;
  return ctor;
}

export function mtlsCredentials(pem: {
  ca: string;
  cert: string;
  key: string;
}): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(
    Buffer.from(pem.ca),
    Buffer.from(pem.key),
    Buffer.from(pem.cert),
  );
}

export class AdsTestStream<Res> {
  private readonly queue: Res[] = [];
  private waiters: ((r: Res) => void)[] = [];
  readonly status: Promise<grpc.StatusObject | grpc.ServiceError>;

  constructor(
    private readonly client: grpc.Client,
    private readonly call: grpc.ClientDuplexStream<unknown, unknown>,
  ) {
    call.on('data', (r: Res) => {
      const w = this.waiters.shift();
      if (w) w(r);
      else this.queue.push(r);
    });
    this.status = new Promise((resolve) => {
      call.on('status', resolve);
      call.on('error', (e: grpc.ServiceError) => resolve(e));
    });
  }

  static open<R>(
    mode: 'sotw' | 'delta',
    addr: string,
    creds: grpc.ChannelCredentials,
  ): AdsTestStream<R> {
    const C = adsClientCtor();
    const client = new C(addr, creds, { 'grpc.ssl_target_name_override': 'localhost' });
    const call =
      mode === 'sotw' ? client.StreamAggregatedResources() : client.DeltaAggregatedResources();
    return new AdsTestStream<R>(client, call);
  }

  send(req: Record<string, unknown>): void {
    this.call.write(req);
  }

  /** The next response, or a rejection after `timeoutMs`. */
  next(timeoutMs = 5000): Promise<Res> {
    const r = this.queue.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`no xDS response within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (x: Res) => {
        clearTimeout(t);
        resolve(x);
      };
      this.waiters.push(done);
    });
  }

  /** Responses received within `ms` (none expected, usually). */
  async drain(ms: number): Promise<Res[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.queue.splice(0);
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}
