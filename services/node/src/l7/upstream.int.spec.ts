import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@shoal/common';
import { HboneClient } from '../hbone/client.js';
import { bodiless } from './proxy.js';
import { Upstreams, type UpstreamRequest } from './upstream.js';

interface Seen {
  readonly bodiless: boolean;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** HTTP/2 only: the HEADERS frame carried END_STREAM. */
  readonly endAfterHeaders?: boolean;
}

/** Real HTTP/1.1 and h2c servers on loopback that record what each request carried. */
describe('waypoint upstream requests with and without a body (real HTTP/1.1 and h2c)', () => {
  const seen: Seen[] = [];
  const record =
    (h2: boolean) =>
    (
      req: http.IncomingMessage | http2.Http2ServerRequest,
      res: http.ServerResponse | http2.Http2ServerResponse,
    ) => {
      const isBodiless = bodiless(req, h2);
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.once('end', () => {
        seen.push({
          bodiless: isBodiless,
          headers: { ...req.headers },
          body,
          ...(h2
            ? { endAfterHeaders: (req as http2.Http2ServerRequest).stream.endAfterHeaders }
            : {}),
        });
        res.end('ok');
      });
    };
  const h1 = http.createServer(record(false));
  const h2 = http2.createServer(record(true));
  const client = new HboneClient(silentLogger());
  const upstreams = new Upstreams({ client, source: () => undefined, logger: silentLogger() });
  const port = (s: { address(): AddressInfo | string | null }) => (s.address() as AddressInfo).port;

  before(async () => {
    await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  });
  after(() => {
    upstreams.close();
    client.close();
    h1.close();
    h2.close();
  });

  const send = async (h2c: boolean, method: string, body: UpstreamRequest['body']) => {
    const target = { ip: '127.0.0.1', port: port(h2c ? h2 : h1) };
    const r = await upstreams.send(
      target,
      h2c,
      { method, path: '/x', authority: 'web.ns', headers: {}, body },
      5000,
    );
    assert.equal(r.status, 200);
    r.body.resume();
    await new Promise((res) => r.body.once('end', res));
    return seen.at(-1)!;
  };

  it('sends an empty body as no body at all, and a body as it is', async () => {
    const get1 = await send(false, 'GET', Buffer.alloc(0));
    assert.equal(get1.bodiless, true);
    assert.equal(get1.headers['content-length'], undefined);
    assert.equal(get1.headers['transfer-encoding'], undefined);
    const post1 = await send(false, 'POST', Buffer.alloc(0));
    assert.equal(post1.headers['content-length'], '0', 'an empty POST says so');
    assert.equal(post1.bodiless, true);
    const full1 = await send(false, 'POST', Buffer.from('payload'));
    assert.equal(full1.body, 'payload');
    assert.equal(full1.bodiless, false);

    const get2 = await send(true, 'GET', Buffer.alloc(0));
    assert.equal(get2.endAfterHeaders, true, 'END_STREAM on the HEADERS frame');
    assert.equal(get2.bodiless, true);
    const full2 = await send(true, 'POST', Buffer.from('payload'));
    assert.equal(full2.endAfterHeaders, false);
    assert.equal(full2.bodiless, false);
    assert.equal(full2.body, 'payload');
  });

  it('tells a chunked HTTP/1.1 body from none', async () => {
    const chunked = await new Promise<Seen>((resolve, reject) => {
      const r = http.request({ host: '127.0.0.1', port: port(h1), method: 'POST', path: '/c' });
      r.once('response', (res) => res.resume().once('end', () => resolve(seen.at(-1)!)));
      r.once('error', reject);
      r.write('a');
      r.end('b');
    });
    assert.equal(chunked.headers['transfer-encoding'], 'chunked');
    assert.equal(chunked.bodiless, false);
    assert.equal(chunked.body, 'ab');
  });
});
