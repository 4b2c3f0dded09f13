/**
 * Backends for the xDS interop tests: gRPC servers answering grpc.health.v1.Health/Check with
 * SERVING and an `x-backend: <name>` response header, so a client can tell who answered. The
 * service is defined by hand (no .proto needed): the request is ignored, the response is
 * HealthCheckResponse{status: SERVING} = bytes 08 01.
 */
import * as grpc from '@grpc/grpc-js';

export const HEALTH_CHECK = '/grpc.health.v1.Health/Check';
const SERVING = Buffer.from([0x08, 0x01]);
const identity = (b: Buffer) => b;

export interface Backend {
  readonly name: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startBackend(name: string): Promise<Backend> {
  const server = new grpc.Server();
  server.addService(
    {
      Check: {
        path: HEALTH_CHECK,
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      Check: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const md = new grpc.Metadata();
        md.set('x-backend', name);
        call.sendMetadata(md);
        cb(null, SERVING);
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return {
    name,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000).unref();
      }),
  };
}

/** One Health/Check call through `client`; resolves with the x-backend header. */
export function whoAnswers(client: grpc.Client, deadlineMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let backend = '';
    const call = client.makeUnaryRequest(
      HEALTH_CHECK,
      identity,
      identity,
      Buffer.alloc(0),
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err) => (err ? reject(err) : resolve(backend)),
    );
    call.on('metadata', (md: grpc.Metadata) => {
      backend = String(md.get('x-backend')[0] ?? '');
    });
  });
}

export function tally(names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = (out[n] ?? 0) + 1;
  return out;
}
