import * as grpc from '@grpc/grpc-js';
import { spiffeIdOf } from '@shoal/ca';
import { PUSH_ORDER } from '@shoal/proto';
import type { Actor, ActorContext, Reply } from '../actors/index.js';
import type { CertSet } from '../hbone/identity.js';
import { INVALID_ARGUMENT, adsService, type DeltaRequest, type DeltaResponse } from './protocol.js';

export interface XdsEntry {
  readonly version: string;
  readonly value: Uint8Array;
}
/** typeUrl → name → resource: the complete config the node holds. */
export type XdsConfig = ReadonlyMap<string, ReadonlyMap<string, XdsEntry>>;

export type XdsMsg =
  | { readonly kind: 'certs'; readonly certs: CertSet }
  | { readonly kind: 'connect' }
  | { readonly kind: 'response'; readonly gen: number; readonly res: DeltaResponse }
  | { readonly kind: 'closed'; readonly gen: number; readonly reason: string }
  | { readonly kind: 'dump'; readonly reply: Reply<XdsDump> };

export interface XdsDump {
  readonly connected: boolean;
  readonly version: string;
  readonly acks: number;
  readonly nacks: { typeUrl: string; message: string; at: string }[];
  readonly resources: Record<string, Record<string, string>>;
}

export interface XdsClientOptions {
  readonly address: string;
  readonly trustDomain: string;
  readonly cluster: string;
  readonly node: string;
  readonly nodeSpiffeId: string;
  readonly typeUrls?: readonly string[];
  /** Apply a candidate config: resolve to commit and ACK, reject (with the reason) to NACK. */
  readonly apply: (candidate: XdsConfig, changedType: string, version: string) => Promise<void>;
  readonly backoff?: { initialMs: number; maxMs: number };
  readonly onConnected?: (connected: boolean) => void;
}

/** Pure: the candidate config after a Delta response (adds/updates, then removals). */
export function mergeDelta(
  current: XdsConfig,
  res: DeltaResponse,
): Map<string, Map<string, XdsEntry>> {
  const next = new Map<string, Map<string, XdsEntry>>();
  for (const [t, m] of current) next.set(t, new Map(m));
  const m = next.get(res.typeUrl) ?? new Map<string, XdsEntry>();
  for (const r of res.resources ?? []) {
    if (r.resource?.value)
      m.set(r.name, { version: r.version, value: new Uint8Array(r.resource.value) });
  }
  for (const name of res.removedResources ?? []) m.delete(name);
  next.set(res.typeUrl, m);
  return next;
}

/**
 * Delta ADS client. One bidirectional stream over mutual TLS with the node certificate; each
 * response is applied as a whole (validation + handing it to the ztunnel/waypoint actors) and
 * ACKed, or NACKed with the reason while the previous config keeps serving. On a broken stream
 * it reconnects with exponential backoff and tells the server what it already has
 * (initial_resource_versions), so nothing is lost while the control plane is away.
 */
export function xdsClientActor(opts: XdsClientOptions) {
  return (ctx: ActorContext<XdsMsg>): Actor<XdsMsg> => {
    const types = opts.typeUrls ?? PUSH_ORDER;
    const backoff = opts.backoff ?? { initialMs: 250, maxMs: 5000 };
    let config: XdsConfig = new Map();
    let version = '';
    let certs: CertSet | undefined;
    let client: grpc.Client | undefined;
    let call: grpc.ClientDuplexStream<DeltaRequest, DeltaResponse> | undefined;
    let gen = 0;
    let attempts = 0;
    let connected = false;
    let acks = 0;
    const nacks: XdsDump['nacks'] = [];
    let timer: NodeJS.Timeout | undefined;

    const setConnected = (v: boolean) => {
      if (connected !== v) opts.onConnected?.(v);
      connected = v;
    };

    function open(): void {
      const nodeCert = certs?.byIdentity.get(opts.nodeSpiffeId);
      if (!certs || !nodeCert) return; // connect again when the node certificate arrives
      call?.cancel();
      client?.close();
      const creds = grpc.credentials.createSsl(
        Buffer.from(certs.trustBundlePem),
        Buffer.from(nodeCert.keyPem),
        Buffer.from(nodeCert.certChainPem),
        {
          checkServerIdentity: (_h, cert) => {
            const id = cert.raw ? spiffeIdOf(new Uint8Array(cert.raw)) : undefined;
            return id?.startsWith(`spiffe://${opts.trustDomain}/`)
              ? undefined
              : new Error(
                  `xDS server presented ${id ?? 'no SPIFFE id'}, not one of trust domain ${opts.trustDomain}`,
                );
          },
        },
      );
      const Ctor = adsService();
      // A fresh channel per attempt, with its own subchannel: a shared subchannel would keep
      // grpc-js's own reconnect backoff (up to 2 minutes) after the server comes back.
      client?.close();
      client = new Ctor(opts.address, creds, {
        'grpc.ssl_target_name_override': 'xds.shoal.internal',
        'grpc.use_local_subchannel_pool': 1,
        'grpc.initial_reconnect_backoff_ms': backoff.initialMs,
        'grpc.max_reconnect_backoff_ms': backoff.maxMs,
      });
      const myGen = ++gen;
      const c = (
        client as unknown as {
          deltaAggregatedResources(): grpc.ClientDuplexStream<DeltaRequest, DeltaResponse>;
        }
      ).deltaAggregatedResources();
      call = c;
      c.on('data', (res: DeltaResponse) => ctx.self.tell({ kind: 'response', gen: myGen, res }));
      c.on('error', (err: Error) =>
        ctx.self.tell({ kind: 'closed', gen: myGen, reason: err.message }),
      );
      c.on('end', () =>
        ctx.self.tell({ kind: 'closed', gen: myGen, reason: 'server ended the stream' }),
      );
      for (const typeUrl of types) {
        const have = config.get(typeUrl);
        c.write({
          node: { id: opts.node, cluster: opts.cluster },
          typeUrl,
          resourceNamesSubscribe: ['*'],
          initialResourceVersions: Object.fromEntries(
            [...(have ?? [])].map(([n, e]) => [n, e.version]),
          ),
        });
      }
    }

    function scheduleReconnect(): void {
      if (timer) return;
      const delay =
        Math.min(backoff.maxMs, backoff.initialMs * 2 ** attempts) * (0.8 + Math.random() * 0.4);
      attempts++;
      timer = setTimeout(() => {
        timer = undefined;
        ctx.self.tell({ kind: 'connect' });
      }, delay);
      timer.unref();
    }

    return {
      async receive(msg) {
        switch (msg.kind) {
          case 'certs': {
            const first = !certs?.byIdentity.has(opts.nodeSpiffeId);
            certs = msg.certs;
            // A renewed node certificate is used for the next connection; the stream stays up.
            if (first && certs.byIdentity.has(opts.nodeSpiffeId)) open();
            return;
          }
          case 'connect':
            open();
            return;
          case 'closed':
            if (msg.gen !== gen) return;
            setConnected(false);
            ctx.logger.warn(
              { reason: msg.reason, attempts },
              'xDS stream closed; serving the last good config',
            );
            scheduleReconnect();
            return;
          case 'response': {
            if (msg.gen !== gen || !call) return;
            setConnected(true);
            attempts = 0;
            const res = msg.res;
            const candidate = mergeDelta(config, res);
            const v = res.systemVersionInfo ?? version;
            try {
              await opts.apply(candidate, res.typeUrl, v);
              config = candidate;
              version = v;
              acks++;
              call.write({ typeUrl: res.typeUrl, responseNonce: res.nonce });
              ctx.logger.info(
                { typeUrl: res.typeUrl, version: v, resources: res.resources?.length ?? 0 },
                'config applied (ACK)',
              );
            } catch (err) {
              const message = (err as Error).message;
              nacks.push({ typeUrl: res.typeUrl, message, at: new Date().toISOString() });
              if (nacks.length > 20) nacks.shift();
              call.write({
                typeUrl: res.typeUrl,
                responseNonce: res.nonce,
                errorDetail: { code: INVALID_ARGUMENT, message },
              });
              ctx.logger.warn(
                { typeUrl: res.typeUrl, version: v, err: message },
                'config rejected (NACK); keeping the previous config',
              );
            }
            return;
          }
          case 'dump':
            msg.reply.resolve({
              connected,
              version,
              acks,
              nacks: [...nacks],
              resources: Object.fromEntries(
                [...config].map(([t, m]) => [
                  t,
                  Object.fromEntries([...m].map(([n, e]) => [n, e.version])),
                ]),
              ),
            });
            return;
        }
      },
      stop() {
        clearTimeout(timer);
        call?.cancel();
        client?.close();
      },
    };
  };
}
