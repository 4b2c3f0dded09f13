import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigRejectedError } from '../errors.js';
import { buildL4State } from '../l4/model.js';
import { compileL7 } from '../l7/compile.js';
import { workloadResource } from '../testing/fixtures.js';
import { gatewayListener, routeConfig, tlsSecret } from '../testing/l7-fixtures.js';
import { chainFor } from './actor.js';
import { gatewayView, hostedGateways } from './hosting.js';

const L = 'gateway/shop/gw/8443';
const one = (n: { name: string; value: Uint8Array }) => new Map([[n.name, n.value]]);
const none = new Map<string, Uint8Array>();
const compile = (listener: { name: string; value: Uint8Array }, secrets = none) =>
  compileL7({
    listeners: one(listener),
    routes: one(routeConfig(L, [{ name: 'any', domains: ['*'], routes: [] }])),
    clusters: none,
    endpoints: none,
    secrets,
  });

describe('gateway config (pure)', () => {
  it('compiles SNI filter chains with their SDS secrets and the port', () => {
    const s = compile(
      gatewayListener(L, 8443, [
        { name: 'a', serverNames: ['a.example.com'], secret: 'shop/a' },
        { name: 'any', secret: 'shop/any' },
      ]),
    );
    const l = s.listeners.get(L)!;
    assert.equal(l.port, 8443);
    assert.deepEqual(
      l.chains.map((c) => [c.name, c.serverNames, c.tlsSecrets]),
      [
        ['a', ['a.example.com'], ['shop/a']],
        ['any', [], ['shop/any']],
      ],
    );
  });

  it('rejects a secret whose key does not match, and mixed TLS/plaintext chains', () => {
    assert.throws(
      () =>
        compile(
          gatewayListener(L, 8443, [{ name: 'plain' }]),
          one(tlsSecret('shop/bad', 'nope', 'nope')),
        ),
      (e: unknown) => e instanceof ConfigRejectedError && /shop\/bad/.test(e.message),
    );
    assert.throws(
      () =>
        compile(gatewayListener(L, 8443, [{ name: 'tls', secret: 'shop/a' }, { name: 'plain' }])),
      /mix TLS and plaintext/,
    );
  });

  it('picks the filter chain by SNI: exact, longest wildcard, then the fallback', () => {
    const c = (name: string, serverNames: string[]) => ({
      chain: { name, serverNames, alpn: [] },
    });
    const chains = [c('wild', ['*.example.com']), c('exact', ['a.example.com']), c('any', [])];
    assert.equal(chainFor(chains, 'a.example.com')?.chain.name, 'exact');
    assert.equal(chainFor(chains, 'B.example.com')?.chain.name, 'wild');
    assert.equal(chainFor(chains, 'other.org')?.chain.name, 'any');
    assert.equal(chainFor(chains, undefined)?.chain.name, 'any');
    assert.equal(chainFor(chains.slice(0, 2), 'other.org'), undefined);
  });

  it('hosts a gateway on the node of a workload in its service, one view per port', () => {
    const w = workloadResource({
      name: 'gw-1',
      namespace: 'shop',
      serviceAccount: 'gateway',
      ip: '127.0.0.9',
      node: 'n1',
      cluster: 'c1',
      trustDomain: 'td',
      services: { 'shop/gw.shop.svc.cluster.local': [[8443, 8443]] },
    });
    const l4 = buildL4State(one(w), none);
    const l7 = compile(gatewayListener(L, 8443, [{ name: 'plain' }]));
    assert.deepEqual(hostedGateways(l4, l7, { cluster: 'c1', node: 'n2' }), []);
    const [gw, ...rest] = hostedGateways(l4, l7, { cluster: 'c1', node: 'n1' });
    assert.equal(rest.length, 0);
    assert.equal(gw?.identity, 'spiffe://td/ns/shop/sa/gateway');
    assert.equal(gw?.ip, '127.0.0.9');
    const v = gatewayView(gw!, l7, l4, 'v1');
    assert.deepEqual([...v.ports.keys()], [8443]);
    assert.equal(v.ports.get(8443)?.routes?.name, L);
  });
});
