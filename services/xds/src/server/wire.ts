/**
 * The wire form of ADS messages: requests as proto-loader decodes them (keepCase) mapped to the
 * core's types, and responses encoded to bytes here rather than by grpc-js.
 *
 * Why encode here: one config change goes out to every stream of a cluster, and most nodes get
 * the same resources, so grpc-js would build and encode the same DiscoveryResponse thousands of
 * times. The encoder keeps each distinct response body (everything but the nonce, which is per
 * stream) and appends the nonce field per stream. Protobuf allows fields in any order, so the
 * bytes decode exactly as if protobufjs had written them in field order.
 */
import type { XdsResource } from '@shoal/proto';
import type { DeltaRequest } from '../core/delta.js';
import type { SotwRequest } from '../core/sotw.js';
import type { DeltaResponse, SotwResponse } from '../core/types.js';

export interface WireSotwRequest {
  version_info?: string;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string } | null;
}

export interface WireDeltaRequest {
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string } | null;
}

export function sotwRequest(w: WireSotwRequest): SotwRequest {
  return {
    typeUrl: w.type_url ?? '',
    versionInfo: w.version_info ?? '',
    responseNonce: w.response_nonce ?? '',
    resourceNames: w.resource_names ?? [],
    errorDetail: w.error_detail ?? undefined,
  };
}

export function deltaRequest(w: WireDeltaRequest): DeltaRequest {
  return {
    typeUrl: w.type_url ?? '',
    responseNonce: w.response_nonce ?? '',
    resourceNamesSubscribe: w.resource_names_subscribe ?? [],
    resourceNamesUnsubscribe: w.resource_names_unsubscribe ?? [],
    initialResourceVersions: w.initial_resource_versions ?? {},
    errorDetail: w.error_detail ?? undefined,
  };
}

/** proto-loader's serializer of a response message (plain object → bytes). */
export type Serialize = (message: object) => Uint8Array;

export interface ResponseEncoderOptions {
  readonly serializeSotw: Serialize;
  readonly serializeDelta: Serialize;
  /** control_plane.identifier of SotW responses. */
  readonly controlPlane: string;
  /** Upper bound of the bytes of response bodies kept (oldest dropped first). */
  readonly maxCachedBytes?: number;
}

/** `nonce` is field 5 (string) of both DiscoveryResponse and DeltaDiscoveryResponse. */
const NONCE_TAG = (5 << 3) | 2;
const SEP = '\u0000';
/**
 * Streams that went through the same steps have the same nonce counter, so a fleet pushed the
 * same body mostly shares a few nonces too: keep that many complete messages per body.
 */
const NONCES_PER_BODY = 8;

interface Entry {
  readonly body: Buffer;
  /** Complete messages (body and nonce) by nonce. */
  readonly messages: Map<string, Buffer>;
  bytes: number;
  /** In the cache (its bytes are counted); an entry too big or dropped keeps nothing. */
  cached: boolean;
}

export class ResponseEncoder {
  private readonly entries = new Map<string, Entry>();
  /**
   * The core hands streams with equal content the same resource list (never changed once made):
   * found without building a key. Lives as long as the list, i.e. its snapshot.
   */
  private readonly byList = new WeakMap<
    readonly XdsResource[],
    { readonly typeUrl: string; readonly versionInfo: string; readonly entry: Entry }
  >();
  private cachedBytes = 0;
  private readonly maxCachedBytes: number;
  /** Bodies encoded and reused, for tests and the curious. */
  readonly stats = { encoded: 0, reused: 0 };

  constructor(private readonly opts: ResponseEncoderOptions) {
    this.maxCachedBytes = opts.maxCachedBytes ?? 64 * 1024 * 1024;
  }

  /** The bytes of a DiscoveryResponse. Callers must not modify them: they may be shared. */
  sotw(r: SotwResponse): Buffer {
    const known = this.byList.get(r.resources);
    if (known?.typeUrl === r.typeUrl && known.versionInfo === r.versionInfo) {
      this.stats.reused += 1;
      return this.message(known.entry, r.nonce);
    }
    // Resource versions are content hashes: equal name and version, equal bytes.
    let key = `s${SEP}${r.typeUrl}${SEP}${r.versionInfo}`;
    for (const x of r.resources) key += `${SEP}${x.name}${SEP}${x.version}`;
    const entry = this.entry(key, () =>
      this.opts.serializeSotw({
        version_info: r.versionInfo,
        resources: r.resources.map(any),
        type_url: r.typeUrl,
        control_plane: { identifier: this.opts.controlPlane },
      }),
    );
    this.byList.set(r.resources, { typeUrl: r.typeUrl, versionInfo: r.versionInfo, entry });
    return this.message(entry, r.nonce);
  }

  /** The bytes of a DeltaDiscoveryResponse. Callers must not modify them: they may be shared. */
  delta(r: DeltaResponse): Buffer {
    let key = `d${SEP}${r.typeUrl}${SEP}${r.systemVersionInfo}`;
    for (const x of r.resources) key += `${SEP}${x.name}${SEP}${x.version}`;
    key += `${SEP}-`;
    for (const n of r.removedResources) key += `${SEP}${n}`;
    const entry = this.entry(key, () =>
      this.opts.serializeDelta({
        system_version_info: r.systemVersionInfo,
        resources: r.resources.map((x) => ({ name: x.name, version: x.version, resource: any(x) })),
        type_url: r.typeUrl,
        removed_resources: r.removedResources,
      }),
    );
    return this.message(entry, r.nonce);
  }

  private entry(key: string, encode: () => Uint8Array): Entry {
    const hit = this.entries.get(key);
    if (hit) {
      this.stats.reused += 1;
      return hit;
    }
    this.stats.encoded += 1;
    const u8 = encode();
    const body = Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
    const entry: Entry = { body, messages: new Map(), bytes: body.length, cached: false };
    if (body.length <= this.maxCachedBytes) {
      entry.cached = true;
      this.entries.set(key, entry);
      this.cachedBytes += body.length;
      this.trim();
    }
    return entry;
  }

  private message(entry: Entry, nonce: string): Buffer {
    let m = entry.messages.get(nonce);
    if (m) return m;
    m = withNonce(entry.body, nonce);
    if (entry.cached && entry.messages.size < NONCES_PER_BODY) {
      entry.messages.set(nonce, m);
      entry.bytes += m.length;
      this.cachedBytes += m.length;
      this.trim();
    }
    return m;
  }

  /** Drop the oldest entries until the cache fits its byte budget. */
  private trim(): void {
    for (const [k, e] of this.entries) {
      if (this.cachedBytes <= this.maxCachedBytes) break;
      this.entries.delete(k);
      this.cachedBytes -= e.bytes;
      e.cached = false;
    }
  }
}

const any = (r: XdsResource) => ({ type_url: r.typeUrl, value: r.value });

/** The message bytes: the shared body followed by field 5 (nonce) of this stream. */
function withNonce(body: Buffer, nonce: string): Buffer {
  const n = Buffer.byteLength(nonce);
  let lenBytes = 1;
  for (let v = n; v >= 0x80; v >>>= 7) lenBytes += 1;
  const out = Buffer.allocUnsafe(body.length + 1 + lenBytes + n);
  body.copy(out, 0);
  let at = body.length;
  out[at++] = NONCE_TAG;
  let v = n;
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[at++] = v;
  out.write(nonce, at, 'utf8');
  return out;
}
