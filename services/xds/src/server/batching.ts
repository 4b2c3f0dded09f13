/**
 * Writing the responses of one protocol step (a config change pushes CDS, EDS, LDS and RDS at
 * once) to the HTTP/2 stream in one write.
 *
 * Why: grpc-js's server stream is an object-mode Duplex without writev, so it hands a message
 * to HTTP/2 only after the previous one was flushed to the socket. Four responses then cost
 * four rounds of HTTP/2 framing, TLS records and write(2) per connection, one round of the
 * whole fleet after the other; at thousands of streams that was most of a push's time.
 *
 * How: the stream writes a ResponseBatch as one message; this server interceptor (public
 * grpc-js API) sends its parts to the call below it in order, the last one through the
 * interceptor chain so the Duplex hears when the batch is done. While it does so it corks the
 * call's HTTP/2 stream so the parts leave in one write. That stream is a private field of
 * grpc-js's BaseServerInterceptingCall (@grpc/grpc-js is pinned): when it is not there, the
 * parts still go out in order, in two writes instead of one; `batchingStats` tells which.
 */
import type * as grpc from '@grpc/grpc-js';
import { ServerInterceptingCall } from '@grpc/grpc-js';

/** Encoded responses to send back to back, in this order. */
export class ResponseBatch {
  constructor(readonly messages: readonly Buffer[]) {
    if (messages.length === 0) throw new Error('ResponseBatch: a batch needs at least one message');
  }
}

interface Corkable {
  cork(): void;
  uncork(): void;
}

/** How batches went out since start (tests check the single-write path is in use). */
export const batchingStats = { corked: 0, uncorked: 0 };

const noop = () => undefined;

function http2StreamOf(call: grpc.ServerInterceptingCallInterface): Corkable | undefined {
  const s = (call as unknown as { stream?: Partial<Corkable> }).stream;
  return typeof s?.cork === 'function' && typeof s.uncork === 'function'
    ? (s as Corkable)
    : undefined;
}

/** Must be the server's first interceptor, so that `next` is grpc-js's own call. */
export const batchingInterceptor: grpc.ServerInterceptor = (_method, next) => {
  const stream = http2StreamOf(next);
  return new ServerInterceptingCall(next, {
    sendMessage(message: unknown, proceed: (m: unknown) => void) {
      if (!(message instanceof ResponseBatch)) return proceed(message);
      const parts = message.messages;
      if (stream) batchingStats.corked += 1;
      else batchingStats.uncorked += 1;
      stream?.cork();
      try {
        for (let i = 0; i < parts.length - 1; i++) next.sendMessage(parts[i], noop);
        proceed(parts[parts.length - 1]);
      } finally {
        stream?.uncork();
      }
    },
  });
};
