import type { DemoFleet } from './fleet.js';
import type { SimulatedFleet } from './simulated.js';

/** What `npm start` prints about the demo fleet: where to send traffic and what to try next. */
export function demoBanner(demo: DemoFleet, dataDir: string, sim?: SimulatedFleet): string[] {
  const first = demo.firstRollout();
  const nodes = demo.nodes();
  return [
    'Demo fleet:',
    `  sites     ${[...new Set(nodes.map((n) => n.cluster))].join(', ')} (agents read deploy/examples/demo/<site>)`,
    `  nodes     ${nodes.map((n) => `${n.cluster}/${n.node}@${n.ip}`).join('  ')}`,
    ...(sim ? simulatedLine(sim) : []),
    `  rollout   first rollout ${first?.version ?? '-'}: ${first?.state ?? 'not started'}`,
    `  ingress   ${demo.ingress()}`,
    '',
    'Try:',
    `  curl ${demo.ingress()}/`,
    `  curl -H "authorization: Bearer $(cat ${dataDir}/demo.jwt)" ${demo.ingress()}/reviews`,
    `  curl ${demo.ingress()}/reviews          # no token: the waypoint answers 401`,
    '  npx shoal status',
    '  npx shoal clusters && npx shoal nodes',
    '  npx shoal rollout list',
    '  npx shoal audit --since 1h',
    '  npx shoal history HTTPRoute/shop/reviews',
    '  npx shoal state --at 5',
    '  npx shoal apply -f deploy/examples/demo/changes/reviews-50-50.yaml --reason "even split" && npx shoal rollout list',
  ];
}

function simulatedLine(sim: SimulatedFleet): string[] {
  const names = sim.clusterNames();
  if (names.length === 0) return [];
  const clusters =
    names.length === 1
      ? `1 cluster (${names[0]})`
      : `${names.length} clusters (${names[0]} … ${names.at(-1)})`;
  return [
    `  simulated ${clusters}, ${sim.nodes().length} simulated nodes (xDS + CA, no data plane)`,
  ];
}
