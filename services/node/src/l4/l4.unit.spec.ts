import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TypeUrls, encodeMessage } from '@shoal/proto';
import { ConfigRejectedError } from '../errors.js';
import { allowPrincipals, serviceResource, workloadResource } from '../testing/fixtures.js';
import { authorize, inCidr } from './authz.js';
import { buildL4State, ipToBytes } from './model.js';
import { routeOutbound } from '../ztunnel/outbound.js';

const TD = 'u.local';
const w = (name: string, sa: string, ip: string, extra: object = {}) =>
  workloadResource({
    name,
    namespace: 'ns',
    serviceAccount: sa,
    ip,
    node: 'n',
    cluster: 'c',
    trustDomain: TD,
    ...extra,
  });
const conn = (sa: string, port = 80) => ({
  sourceIdentity: `spiffe://${TD}/ns/ns/sa/${sa}`,
  sourceIp: '127.0.0.9',
  destinationIp: '127.0.0.2',
  destinationPort: port,
});

function state(
  addrs: { name: string; value: Uint8Array }[],
  auths: { name: string; value: Uint8Array }[] = [],
) {
  return buildL4State(
    new Map(addrs.map((a) => [a.name, a.value])),
    new Map(auths.map((a) => [a.name, a.value])),
  );
}

describe('L4 config and authorization', () => {
  it('allows everything without policies, and only matching principals with an ALLOW policy', () => {
    const s0 = state([w('srv', 'srv', '127.0.0.2')]);
    const srv = s0.workloadsByIp.get('127.0.0.2')!;
    assert.deepEqual(authorize(s0, srv, conn('anyone')), { allow: true });
    const s1 = state(
      [w('srv', 'srv', '127.0.0.2')],
      [allowPrincipals('ns', 'p', [`${TD}/ns/ns/sa/good`])],
    );
    assert.equal(authorize(s1, srv, conn('good')).allow, true);
    assert.equal(authorize(s1, srv, conn('bad')).allow, false);
  });

  it('lets a matching DENY win over ALLOW and matches ports and CIDRs', () => {
    const deny = {
      name: 'ns/deny-9090',
      value: encodeMessage(TypeUrls.authorization, {
        name: 'deny-9090',
        namespace: 'ns',
        scope: 1,
        action: 1,
        groups: [
          {
            rules: [
              {
                matches: [
                  {
                    destinationPorts: [9090],
                    sourceIps: [{ address: ipToBytes('127.0.0.0'), length: 24 }],
                  },
                ],
              },
            ],
          },
        ],
      }),
    };
    const s = state(
      [w('srv', 'srv', '127.0.0.2')],
      [allowPrincipals('ns', 'p', [`${TD}/ns/ns/sa/good`]), deny],
    );
    const srv = s.workloadsByIp.get('127.0.0.2')!;
    assert.equal(authorize(s, srv, conn('good', 80)).allow, true);
    assert.deepEqual(authorize(s, srv, conn('good', 9090)), {
      allow: false,
      reason: 'denied by ns/deny-9090',
    });
    assert.equal(inCidr('10.1.2.3', { ip: '10.1.0.0', length: 16 }), true);
    assert.equal(inCidr('10.2.2.3', { ip: '10.1.0.0', length: 16 }), false);
  });

  it('accepts traffic for a workload with a waypoint only from that waypoint', () => {
    const s = state([
      w('srv', 'srv', '127.0.0.2', { waypointIp: '127.0.0.50' }),
      w('wp', 'waypoint', '127.0.0.50'),
    ]);
    const srv = s.workloadsByIp.get('127.0.0.2')!;
    assert.equal(authorize(s, srv, conn('waypoint')).allow, true);
    assert.equal(authorize(s, srv, conn('client')).allow, false);
  });

  it('routes a service to an endpoint target port, or to its waypoint with the VIP as authority', () => {
    const svc = 'ns/srv.ns.svc';
    const s = state([
      w('srv', 'srv', '127.0.0.2', { services: { [svc]: [[80, 8080]] } }),
      serviceResource({
        namespace: 'ns',
        hostname: 'srv.ns.svc',
        vip: '10.0.0.1',
        ports: [[80, 8080]],
      }),
    ]);
    assert.deepEqual(routeOutbound(s, s.services.get(svc)!, 80, 0), {
      proxyHost: '127.0.0.2',
      proxyPort: 15008,
      authority: '127.0.0.2:8080',
      identity: `spiffe://${TD}/ns/ns/sa/srv`,
      hbone: true,
    });
    const sw = state([
      w('wp', 'waypoint', '127.0.0.50'),
      serviceResource({
        namespace: 'ns',
        hostname: 'srv.ns.svc',
        vip: '10.0.0.1',
        ports: [[80, 8080]],
        waypointIp: '127.0.0.50',
      }),
    ]);
    assert.equal(routeOutbound(sw, sw.services.get(svc)!, 80, 0)?.authority, '10.0.0.1:80');
    assert.equal(routeOutbound(sw, sw.services.get(svc)!, 80, 0)?.proxyHost, '127.0.0.50');
  });

  it('rejects a workload without addresses, naming the resource', () => {
    const bad = {
      name: 'c/ns/x',
      value: encodeMessage(TypeUrls.address, {
        workload: { uid: 'c/ns/x', identity: `spiffe://${TD}/ns/ns/sa/x` },
      }),
    };
    assert.throws(
      () => state([bad]),
      (e: unknown) => e instanceof ConfigRejectedError && /c\/ns\/x.*no addresses/.test(e.message),
    );
  });
});
