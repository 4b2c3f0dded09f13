/**
 * The gRPC edge: envoy.service.discovery.v3.AggregatedDiscoveryService (SotW and Delta) on
 * @grpc/grpc-js. Each stream gets its identity (certificate, or the proxyless rules on the
 * plaintext listener), a protocol state machine from core/, and the node's snapshots from the
 * cache; this file only moves messages and maps errors to gRPC statuses. Responses are encoded
 * by the shared ResponseEncoder (wire.ts) and the responses of one step leave in one write
 * (batching.ts): a push to thousands of streams is mostly the same bytes.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Logger, Runner } from '@shoal/common';
import { PROTO_INCLUDE_DIRS } from '@shoal/proto';
import type { SnapshotCache } from '../cache.js';
import { DeltaStream } from '../core/delta.js';
import { SotwStream } from '../core/sotw.js';
import type { DeltaResponse, SotwResponse, Step } from '../core/types.js';
import { NodeIdentityError } from '../errors.js';
import { typeLabel, type XdsMetrics } from '../metrics.js';
import type { NodeRegistry } from '../nodes.js';
import {
  checkRequestNode,
  identityFromCertificate,
  proxylessIdentity,
  type RequestNode,
  type StreamIdentity,
} from './identity.js';
import { ResponseBatch, batchingInterceptor } from './batching.js';
import {
  ResponseEncoder,
  deltaRequest,
  sotwRequest,
  type Serialize,
  type WireDeltaRequest,
  type WireSotwRequest,
} from './wire.js';

export interface TlsFiles {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface AdsServerOptions {
  /** host:port of the mutual-TLS listener. */
  readonly listen: string;
  readonly tls: TlsFiles;
  readonly trustDomain: string;
  /** host:port of the opt-in plaintext listener for proxyless gRPC clients; off when unset. */
  readonly plaintextListen?: string;
  readonly replica: string;
  readonly cache: SnapshotCache;
  readonly nodes: NodeRegistry;
  readonly logger: Logger;
  readonly metrics?: XdsMetrics;
}

export interface AdsService {
  /** The service with responses passed through as bytes (the ResponseEncoder writes them). */
  readonly definition: grpc.ServiceDefinition;
  readonly serializeSotw: Serialize;
  readonly serializeDelta: Serialize;
}

let adsService: AdsService | undefined;

export function loadAdsService(): AdsService {
  if (adsService) return adsService;
  const def = protoLoader.loadSync('envoy/service/discovery/v3/ads.proto', {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
    includeDirs: [...PROTO_INCLUDE_DIRS],
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: {
      service: {
        discovery: {
          v3: { AggregatedDiscoveryService: { service: grpc.ServiceDefinition } };
        };
      };
    };
  };
  const svc = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService.service;
  const sotw = svc.StreamAggregatedResources!;
  const delta = svc.DeltaAggregatedResources!;
  const bytes = (b: Buffer) => b;
  adsService = {
    definition: {
      ...svc,
      StreamAggregatedResources: { ...sotw, responseSerialize: bytes },
      DeltaAggregatedResources: { ...delta, responseSerialize: bytes },
    },
    serializeSotw: sotw.responseSerialize as Serialize,
    serializeDelta: delta.responseSerialize as Serialize,
  };
  return adsService;
}

type Duplex = grpc.ServerDuplexStream<unknown, unknown>;

export class AdsServer implements Runner {
  readonly name = 'xds-ads';
  private server: grpc.Server | undefined;
  private nextId = 0;
  private readonly closers = new Set<() => void>();
  private readonly encoder: ResponseEncoder;
  readonly ports: { tls: number; plaintext: number | undefined } = {
    tls: 0,
    plaintext: undefined,
  };

  constructor(private readonly opts: AdsServerOptions) {
    const { serializeSotw, serializeDelta } = loadAdsService();
    this.encoder = new ResponseEncoder({
      serializeSotw,
      serializeDelta,
      controlPlane: `shoal-xds/${opts.replica}`,
    });
  }

  async start(): Promise<void> {
    const server = new grpc.Server({
      'grpc.max_concurrent_streams': 1 << 20,
      'grpc.keepalive_permit_without_calls': 1,
      interceptors: [batchingInterceptor],
    });
    server.addService(loadAdsService().definition, {
      StreamAggregatedResources: (call: Duplex) => this.stream(call, 'sotw'),
      DeltaAggregatedResources: (call: Duplex) => this.stream(call, 'delta'),
    });
    const { tls } = this.opts;
    const creds = grpc.ServerCredentials.createSsl(
      tls.ca,
      [{ private_key: tls.key, cert_chain: tls.cert }],
      true,
    );
    this.ports.tls = await bind(server, this.opts.listen, creds);
    if (this.opts.plaintextListen) {
      this.ports.plaintext = await bind(
        server,
        this.opts.plaintextListen,
        grpc.ServerCredentials.createInsecure(),
      );
      this.opts.logger.warn(
        { listen: this.opts.plaintextListen },
        'plaintext xDS listener for proxyless clients is on: it serves only proxyless config',
      );
    }
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const c of [...this.closers]) c();
    // Streams never end by themselves; clients reconnect to another replica.
    s?.forceShutdown();
    await Promise.resolve();
  }

  private stream(call: Duplex, mode: 'sotw' | 'delta'): void {
    const log = this.opts.logger;
    const auth = call.getAuthContext();
    const tls = auth?.transportSecurityType === 'ssl';
    const listener = tls ? 'mtls' : 'plaintext';
    let identity: StreamIdentity | undefined;
    const refuse = (err: NodeIdentityError) => {
      this.opts.metrics?.refused.inc({ reason: err.reason });
      log.warn({ peer: call.getPeer(), reason: err.message }, 'refused xDS stream');
      call.emit('error', {
        code:
          err.reason === 'unauthenticated'
            ? grpc.status.UNAUTHENTICATED
            : grpc.status.PERMISSION_DENIED,
        details: err.message,
      });
    };
    if (tls) {
      try {
        identity = identityFromCertificate(auth.sslPeerCertificate, this.opts.trustDomain);
      } catch (err) {
        if (err instanceof NodeIdentityError) return refuse(err);
        throw err;
      }
    }
    const id = ++this.nextId;
    let core: SotwStream | DeltaStream | undefined;
    let unsubscribe: (() => void) | undefined;
    let closed = false;
    const write = (step: Step<SotwResponse | DeltaResponse>) => {
      if (closed) return;
      if (step.responses.length > 0) {
        const out = step.responses.map((r) => {
          this.opts.metrics?.pushes.inc({ type: typeLabel(r.typeUrl) });
          return 'versionInfo' in r ? this.encoder.sotw(r) : this.encoder.delta(r);
        });
        call.write(out.length === 1 ? out[0] : new ResponseBatch(out));
      }
      if (step.events.length > 0) this.opts.nodes.onEvents(id, step.events);
    };
    const cleanup = () => {
      if (closed) return;
      closed = true;
      unsubscribe?.();
      this.closers.delete(cleanup);
      if (core) {
        this.opts.nodes.remove(id);
        this.opts.metrics?.streams.dec({ mode, listener });
      }
    };
    this.closers.add(cleanup);
    const begin = (node: RequestNode | undefined) => {
      identity ??= proxylessIdentity(node);
      const who = identity;
      const snap = this.opts.cache.current(who.cluster, who.node);
      const c = mode === 'sotw' ? new SotwStream(snap) : new DeltaStream(snap);
      core = c;
      this.opts.nodes.add({
        id,
        cluster: who.cluster,
        node: who.reportedNode,
        proxyless: who.proxyless,
        spiffeId: who.spiffeId,
        mode,
        connectedAt: Date.now(),
        progress: () => c.progress(),
      });
      this.opts.metrics?.streams.inc({ mode, listener });
      unsubscribe = this.opts.cache.subscribe(who.cluster, who.node, (s) => {
        write(c.onSnapshot(s, Date.now()));
      });
      log.debug(
        { cluster: who.cluster, node: who.reportedNode, mode, listener },
        'xDS stream open',
      );
      return c;
    };
    call.on('data', (raw: unknown) => {
      if (closed) return;
      try {
        const node = (raw as { node?: RequestNode | null }).node ?? undefined;
        if (identity && node) checkRequestNode(identity, node);
        const c = core ?? begin(node);
        if (c instanceof SotwStream)
          write(c.onRequest(sotwRequest(raw as WireSotwRequest), Date.now()));
        else write(c.onRequest(deltaRequest(raw as WireDeltaRequest), Date.now()));
      } catch (err) {
        cleanup();
        if (err instanceof NodeIdentityError) return refuse(err);
        log.error({ err }, 'xDS stream failed');
        call.emit('error', { code: grpc.status.INTERNAL, details: (err as Error).message });
      }
    });
    call.on('end', () => {
      cleanup();
      call.end();
    });
    call.on('error', cleanup);
    call.on('cancelled', cleanup);
    call.on('close', cleanup);
  }
}

function bind(
  server: grpc.Server,
  hostPort: string,
  creds: grpc.ServerCredentials,
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(hostPort, creds, (err, port) => (err ? reject(err) : resolve(port)));
  });
}
