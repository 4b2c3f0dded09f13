/**
 * Protobuf schemas for Shoal: Envoy v3 xDS types (loaded from the protos that
 * @grpc/grpc-js-xds ships, so a real Envoy or proxyless gRPC client reads the same bytes) and
 * Shoal's own messages under proto/shoal/ (L4 workload/authorization config, API, agents).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import protobuf from 'protobufjs';
import { SHOAL_CACHE, pruneCache, writeCacheFile } from '@shoal/common/disk-cache';

const require = createRequire(import.meta.url);
const xdsDeps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

/** This package's own .proto root (files under proto/shoal/...). */
export const SHOAL_PROTO_DIR = join(import.meta.dirname, '..');

/** Include paths for @grpc/proto-loader / protobufjs: Shoal's protos, then Envoy's. */
export const PROTO_INCLUDE_DIRS: readonly string[] = [
  SHOAL_PROTO_DIR,
  join(xdsDeps, 'envoy-api'),
  join(xdsDeps, 'xds'),
  join(xdsDeps, 'googleapis'),
  join(xdsDeps, 'protoc-gen-validate'),
  // google/protobuf/descriptor.proto and friends that protobufjs does not build in.
  dirname(require.resolve('protobufjs/package.json')),
];

/** Type URLs of every resource type Shoal serves over xDS. */
export const TypeUrls = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
  /** Shoal L4 (ztunnel) config, modelled on Istio's workload API. */
  address: 'type.googleapis.com/shoal.workload.v1.Address',
  authorization: 'type.googleapis.com/shoal.security.v1.Authorization',
} as const;
export type TypeUrl = (typeof TypeUrls)[keyof typeof TypeUrls];

/**
 * Make-before-break order in which a change is pushed: clusters before the endpoints that fill
 * them, listeners before the routes they name; L4 addresses and policies before L7. Removals go
 * out after all additions.
 */
export const PUSH_ORDER: readonly TypeUrl[] = [
  TypeUrls.secret,
  TypeUrls.authorization,
  TypeUrls.address,
  TypeUrls.cluster,
  TypeUrls.endpoint,
  TypeUrls.listener,
  TypeUrls.route,
];

/** Only these types may be requested with a wildcard (empty resource_names) in SotW. */
export const WILDCARD_TYPES: ReadonlySet<string> = new Set([TypeUrls.listener, TypeUrls.cluster]);

/** One named, encoded xDS resource with a content version (hash of its bytes). */
export interface XdsResource {
  readonly typeUrl: string;
  readonly name: string;
  /** Content hash of `value`: equal bytes, equal version. */
  readonly version: string;
  /** The protobuf encoding of the message named by typeUrl. */
  readonly value: Uint8Array;
}

const ENVOY_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/basic_auth/v3/basic_auth.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
];

function shoalProtoFiles(): string[] {
  const dir = join(SHOAL_PROTO_DIR, 'shoal');
  const out: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.proto')) out.push(relative(SHOAL_PROTO_DIR, p));
    }
  };
  walk(dir);
  return out.sort();
}

let cached: protobuf.Root | undefined;

/**
 * Field options that change how a message is encoded or what `toObject` returns; every other
 * option (Envoy's validate rules, versioning and UDPA annotations) is documentation to us.
 */
const KEPT_FIELD_OPTIONS = new Set(['packed', 'default', 'proto3_optional', 'features']);

/**
 * The schema as protobufjs JSON (which leaves doc comments out) without the options that do not
 * affect encoding (Envoy's validate rules and UDPA annotations are on most fields): 209 KB
 * instead of 288 KB. Loading it takes about 50 ms where parsing the .proto files takes about 170 ms, in
 * every process that decodes xDS; with the node's ADS and CA clients built on it instead of a
 * second @grpc/proto-loader copy, an idle node worker measured 96 MB RSS instead of 100.
 */
function prune(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(prune);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    // Type, enum (and enum value), service, method, oneof and namespace options.
    if (k === 'options' || k === 'valuesOptions') continue;
    if (k === 'fields' && v && typeof v === 'object') {
      const fields: Record<string, unknown> = {};
      for (const [name, f] of Object.entries(v as Record<string, Record<string, unknown>>)) {
        const { options, ...rest } = f;
        const kept = Object.entries((options ?? {}) as Record<string, unknown>).filter(([o]) =>
          KEPT_FIELD_OPTIONS.has(o),
        );
        fields[name] = kept.length > 0 ? { ...rest, options: Object.fromEntries(kept) } : rest;
      }
      out[k] = fields;
      continue;
    }
    out[k] = prune(v);
  }
  return out;
}

/** Parse the .proto files (the slow path, and the source of truth for the cached form). */
function parseProtos(files: readonly string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of PROTO_INCLUDE_DIRS) {
      const p = join(dir, target);
      if (existsSync(p)) return p;
    }
    // google/protobuf/*.proto are bundled with protobufjs as common types.
    return target;
  };
  root.loadSync([...files], { keepCase: false });
  root.resolveAll();
  return root;
}

/** Content key of the schema: the files loaded, Shoal's own protos, the package versions. */
function schemaKey(shoalFiles: readonly string[]): string {
  const h = createHash('sha256').update('prune-v1\0');
  for (const pkg of ['protobufjs/package.json', '@grpc/grpc-js-xds/package.json'])
    h.update(
      String(
        (JSON.parse(readFileSync(require.resolve(pkg), 'utf8')) as { version: string }).version,
      ),
    );
  for (const f of ENVOY_FILES) h.update(`\0${f}`);
  for (const f of shoalFiles) h.update(`\0${f}\0`).update(readFileSync(join(SHOAL_PROTO_DIR, f)));
  return h.digest('hex').slice(0, 16);
}

/** Where the pruned schema of the protos on disk now is (or will be) cached. */
export function schemaCacheFile(shoalFiles: readonly string[] = shoalProtoFiles()): string {
  return join(SHOAL_CACHE, `proto-${schemaKey(shoalFiles)}.json`);
}

/**
 * Schemas cached for other protos or package versions, once nobody can still be reading them
 * (an hour old, as for the worker bundles beside them): each is about 200 KB.
 */
export function pruneStaleSchemas(keep: string): void {
  pruneCache(SHOAL_CACHE, (f) => /^proto-[0-9a-f]{16}\.json$/.test(f), keep);
}

/**
 * A protobufjs Root holding the Envoy xDS types and all of Shoal's own messages (cached in the
 * process, and on disk in its pruned JSON form, keyed by content, so later processes skip
 * parsing). A cache that cannot be written is not an error: the schema is parsed again next time.
 */
export function protoRoot(): protobuf.Root {
  if (cached) return cached;
  const shoalFiles = shoalProtoFiles();
  const file = schemaCacheFile(shoalFiles);
  let json: protobuf.INamespace | undefined;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as protobuf.INamespace;
  } catch {
    json = prune(parseProtos([...ENVOY_FILES, ...shoalFiles]).toJSON()) as protobuf.INamespace;
    try {
      writeCacheFile(file, JSON.stringify(json));
      pruneStaleSchemas(file);
    } catch {
      // read-only checkout: parse again next time
    }
  }
  const root = protobuf.Root.fromJSON(json);
  root.resolveAll();
  cached = root;
  return root;
}

/** The message type behind a type URL. */
export function messageType(typeUrl: string): protobuf.Type {
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  return protoRoot().lookupType(name);
}

/** Encode a plain object (camelCase fields) as the message named by typeUrl; throws on bad fields. */
export function encodeMessage(typeUrl: string, obj: Record<string, unknown>): Uint8Array {
  const type = messageType(typeUrl);
  const err = type.verify(obj);
  if (err) throw new Error(`invalid ${typeUrl}: ${err}`);
  return type.encode(type.fromObject(obj)).finish();
}

export function decodeMessage(typeUrl: string, bytes: Uint8Array): Record<string, unknown> {
  const type = messageType(typeUrl);
  return type.toObject(type.decode(bytes), {
    longs: String,
    enums: String,
    defaults: false,
  }) as Record<string, unknown>;
}

/**
 * A google.protobuf.Any as protobufjs wants it inside another message. protobufjs's built-in
 * Any keeps the proto field name `type_url` (it is not camel-cased like loaded files), so a
 * `typeUrl` key would be dropped silently.
 */
export function toAny(
  typeUrl: string,
  obj: Record<string, unknown>,
): { type_url: string; value: Uint8Array } {
  return { type_url: typeUrl, value: encodeMessage(typeUrl, obj) };
}

/**
 * The compiled config of one node at one config version: what the compiler produces, what the
 * config store keeps (immutable, content-addressed) and what the xDS server serves to that node.
 * `node` is `"*proxyless"` for the set served to proxyless gRPC clients of the cluster.
 */
export interface NodeConfigBundle {
  readonly cluster: string;
  readonly node: string;
  /** The cluster's config version this bundle belongs to. */
  readonly version: string;
  readonly resources: readonly XdsResource[];
}

export const PROXYLESS_NODE = '*proxyless';

/** Serialize a bundle for storage (JSON with base64 resource bytes; stable key order). */
export function encodeBundle(b: NodeConfigBundle): Uint8Array {
  const resources = [...b.resources]
    .sort((x, y) => (x.typeUrl === y.typeUrl ? cmp(x.name, y.name) : cmp(x.typeUrl, y.typeUrl)))
    .map((r) => ({
      typeUrl: r.typeUrl,
      name: r.name,
      version: r.version,
      value: Buffer.from(r.value).toString('base64'),
    }));
  return Buffer.from(
    JSON.stringify({ cluster: b.cluster, node: b.node, version: b.version, resources }),
  );
}

export function decodeBundle(bytes: Uint8Array): NodeConfigBundle {
  const raw = JSON.parse(Buffer.from(bytes).toString('utf8')) as {
    cluster: string;
    node: string;
    version: string;
    resources: { typeUrl: string; name: string; version: string; value: string }[];
  };
  return {
    cluster: raw.cluster,
    node: raw.node,
    version: raw.version,
    resources: raw.resources.map((r) => ({
      ...r,
      value: new Uint8Array(Buffer.from(r.value, 'base64')),
    })),
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The schema parsed from the .proto files, bypassing every cache (for tests). */
export function parsedProtoRoot(): protobuf.Root {
  return parseProtos([...ENVOY_FILES, ...shoalProtoFiles()]);
}

/**
 * One method of a gRPC service in the shape @grpc/grpc-js takes (`makeGenericClientConstructor`,
 * `Server.addService`), without depending on grpc-js here.
 */
export interface GrpcMethod {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly requestSerialize: (value: object) => Buffer;
  readonly requestDeserialize: (bytes: Buffer) => object;
  readonly responseSerialize: (value: object) => Buffer;
  readonly responseDeserialize: (bytes: Buffer) => object;
  readonly originalName: string;
}

/**
 * The methods of a gRPC service from `protoRoot()`, with messages as plain objects converted by
 * `toObject` with `options` (as @grpc/proto-loader would, without a second copy of the schema).
 * Keyed by the method's proto name; `originalName` is its camelCase form.
 */
export function grpcService(
  fullName: string,
  options: protobuf.IConversionOptions,
): Record<string, GrpcMethod> {
  const svc = protoRoot().lookupService(fullName);
  const codec = (t: protobuf.Type) => ({
    serialize: (v: object) => Buffer.from(t.encode(t.fromObject(v)).finish()),
    deserialize: (b: Buffer) => t.toObject(t.decode(b), options),
  });
  const out: Record<string, GrpcMethod> = {};
  for (const m of svc.methodsArray) {
    m.resolve();
    const req = codec(m.resolvedRequestType!);
    const res = codec(m.resolvedResponseType!);
    out[m.name] = {
      path: `/${fullName}/${m.name}`,
      requestStream: m.requestStream ?? false,
      responseStream: m.responseStream ?? false,
      requestSerialize: req.serialize,
      requestDeserialize: req.deserialize,
      responseSerialize: res.serialize,
      responseDeserialize: res.deserialize,
      originalName: m.name.charAt(0).toLowerCase() + m.name.slice(1),
    };
  }
  return out;
}
