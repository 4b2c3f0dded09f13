/**
 * Baseline relay for `dataplane` (tls_tunnel_gbps): the ztunnel topology with plain mutual TLS
 * and no HTTP/2. `out`: TCP listener → TLS client to the peer; `in`: TLS server → TCP target.
 * Config in argv[2] as JSON; prints "ready <port>".
 */
import net from 'node:net';
import tls from 'node:tls';

const c = JSON.parse(process.argv[2] ?? '{}') as {
  mode: 'in' | 'out';
  listen: string;
  target: string;
  cert: string;
  key: string;
  ca: string;
};
const [lh, lp] = c.listen.split(':') as [string, string];
const [th, tp] = c.target.split(':') as [string, string];
const join = (a: net.Socket, b: net.Socket) => {
  // As the ztunnels do: small writes go out at once (Nagle would hold an echo for an ACK).
  a.setNoDelay(true);
  b.setNoDelay(true);
  a.pipe(b).pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
};
const server =
  c.mode === 'in'
    ? tls.createServer(
        { cert: c.cert, key: c.key, ca: c.ca, requestCert: true, rejectUnauthorized: true },
        (s) => join(s, net.connect({ host: th, port: Number(tp) })),
      )
    : net.createServer((s) =>
        join(
          s,
          tls.connect({
            host: th,
            port: Number(tp),
            cert: c.cert,
            key: c.key,
            ca: c.ca,
            servername: '',
            checkServerIdentity: () => undefined,
          }),
        ),
      );
server.listen(Number(lp), lh, () => {
  const a = server.address() as net.AddressInfo;
  process.stdout.write(`ready ${a.port}\n`);
});
