import * as grpc from '@grpc/grpc-js';
import { grpcService } from '@shoal/proto';

export interface AnyWire {
  typeUrl: string;
  value: Buffer;
}
export interface DeltaResponse {
  systemVersionInfo?: string;
  resources?: { name: string; version: string; resource?: AnyWire }[];
  removedResources?: string[];
  typeUrl: string;
  nonce: string;
}
export interface DeltaRequest {
  node?: { id: string; cluster: string };
  typeUrl: string;
  resourceNamesSubscribe?: string[];
  initialResourceVersions?: Record<string, string>;
  responseNonce?: string;
  errorDetail?: { code: number; message: string };
}

let cached: grpc.ServiceClientConstructor | undefined;

/** envoy.service.discovery.v3.AggregatedDiscoveryService, loaded from the Envoy protos. */
export function adsService(): grpc.ServiceClientConstructor {
  if (cached) return cached;
  cached = grpc.makeGenericClientConstructor(
    grpcService('envoy.service.discovery.v3.AggregatedDiscoveryService', {
      longs: String,
      enums: String,
      defaults: false,
      oneofs: true,
    }),
    'AggregatedDiscoveryService',
  );
  return cached;
}

/** google.rpc.Code INVALID_ARGUMENT, the code Envoy puts in a NACK's error_detail. */
export const INVALID_ARGUMENT = 3;
