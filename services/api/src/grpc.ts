import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_INCLUDE_DIRS, SHOAL_PROTO_DIR } from '@shoal/proto';

let cached: grpc.GrpcObject | undefined;

/** The `shoal.api.v1.Shoal` service definition, loaded from proto/shoal/api/v1/api.proto. */
export function apiPackage(): grpc.GrpcObject {
  if (cached) return cached;
  const def = protoLoader.loadSync(join(SHOAL_PROTO_DIR, 'shoal/api/v1/api.proto'), {
    includeDirs: [...PROTO_INCLUDE_DIRS],
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  cached = grpc.loadPackageDefinition(def);
  return cached;
}

export function shoalService(): grpc.ServiceDefinition {
  const pkg = apiPackage() as unknown as {
    shoal: { api: { v1: { Shoal: grpc.ServiceClientConstructor } } };
  };
  return pkg.shoal.api.v1.Shoal.service;
}

export function shoalClientConstructor(): grpc.ServiceClientConstructor {
  const pkg = apiPackage() as unknown as {
    shoal: { api: { v1: { Shoal: grpc.ServiceClientConstructor } } };
  };
  return pkg.shoal.api.v1.Shoal;
}
