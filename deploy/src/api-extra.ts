/**
 * API handlers that need the whole control plane (rollouts on Temporal, the fleet as the
 * controller and the xDS layer see it). Kept beside the wiring, so the API package does not
 * depend on the workflow and xDS packages.
 */
import type { Handler } from '@shoal/api';
import { NotFoundError, ValidationError } from '@shoal/api';
import {
  rolloutCommands,
  rolloutHandle,
  scopeWorkflowId,
  submitVersion,
  type RolloutProgress,
} from '@shoal/workflows';
import { messageType } from '@shoal/proto';
import type { ControlPlaneHandles } from './control-plane.js';

function toStatus(p: RolloutProgress) {
  const byWave = new Map<number, string[]>();
  for (const c of p.clusters) byWave.set(c.wave, [...(byWave.get(c.wave) ?? []), c.name]);
  return {
    id: p.rolloutId,
    state: p.state,
    version: p.targetVersion,
    waves: p.waves.map((w) => {
      const clusters = p.clusters.filter((c) => c.wave === w.index);
      return {
        name: w.name,
        state: w.state,
        clusters: clusters.map((c) => `${c.name}:${c.state}`),
        nodesTotal: clusters.length,
        nodesAcked: clusters.filter((c) => c.state === 'converged').length,
        reason: clusters
          .map((c) => c.reason)
          .filter(Boolean)
          .join('; '),
      };
    }),
    reason: p.reasons.join('; '),
    startedAt: '',
    updatedAt: new Date().toISOString(),
  };
}

export function rolloutHandlers(h: () => ControlPlaneHandles): Record<string, Handler> {
  const progress = async (id: string) => {
    try {
      const t = h().temporal;
      return await t.connection.withDeadline(Date.now() + 5000, () =>
        rolloutCommands.progress(rolloutHandle(t, id, h().controller.rolloutScope)),
      );
    } catch (err) {
      throw new NotFoundError(`no rollout ${id}: ${(err as Error).message}`);
    }
  };
  return {
    async StartRollout(req, caller) {
      const latest = h().controller.latest;
      const version = String(req.version || latest?.version || '');
      if (!version)
        throw new ValidationError([
          'no compiled config version yet: apply some configuration first',
        ]);
      const rolloutId = `rollout-${version}-${Date.now().toString(36)}`;
      await submitVersion(h().temporal, h().controller.rolloutScope, {
        rolloutId,
        policy: h().controller.currentPolicy(),
        targetVersion: version,
      });
      void caller;
      for (let i = 0; i < 50; i++) {
        try {
          return toStatus(await progress(rolloutId));
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      return {
        id: rolloutId,
        state: 'queued',
        version,
        waves: [],
        reason: '',
        startedAt: '',
        updatedAt: '',
      };
    },
    async GetRollout(req) {
      return toStatus(await progress(String(req.id)));
    },
    async ListRollouts() {
      const t = h().temporal;
      const scope = await t.connection
        .withDeadline(Date.now() + 5000, () =>
          rolloutCommands.scope(t, h().controller.rolloutScope),
        )
        .catch(() => undefined);
      if (!scope) return { rollouts: [] };
      // The last 20 finished and the running one, queried in parallel (each is one workflow query).
      const finished = scope.finished.slice(-20).map(async (f) => {
        if (f.status === 'superseded-before-start') {
          return {
            id: f.rolloutId,
            state: f.status,
            version: '',
            waves: [],
            reason: f.reason ?? '',
            startedAt: '',
            updatedAt: '',
          };
        }
        return toStatus(
          await progress(f.rolloutId).catch(
            () =>
              ({
                rolloutId: f.rolloutId,
                targetVersion: '',
                state: f.status,
                paused: false,
                currentWave: 0,
                waves: [],
                clusters: [],
                reasons: f.reason ? [f.reason] : [],
                compensationFailures: 0,
                pendingEdgeSites: [],
                runs: 0,
              }) as RolloutProgress,
          ),
        );
      });
      const rollouts = await Promise.all([
        ...finished,
        ...(scope.running ? [progress(scope.running).then(toStatus)] : []),
      ]);
      return { rollouts: rollouts.reverse() };
    },
    async ControlRollout(req, caller) {
      const handle = rolloutHandle(h().temporal, String(req.id), h().controller.rolloutScope);
      const action = String(req.action);
      const reason = String(req.reason ?? '');
      let p: RolloutProgress;
      if (action === 'pause') p = await rolloutCommands.pause(handle, caller.actor, reason);
      else if (action === 'resume') p = await rolloutCommands.resume(handle, caller.actor);
      else if (action === 'approve')
        p = await rolloutCommands.approve(handle, String(req.wave), caller.actor);
      else if (action === 'abort')
        p = await rolloutCommands.abort(handle, caller.actor, reason || 'aborted by operator');
      else
        throw new ValidationError([`unknown action "${action}": pause, resume, approve or abort`]);
      return toStatus(p);
    },
  };
}

/** The version assigned to a cluster at a position or time, from ConfigVersionAssigned events. */
async function assignedAt(
  h: ControlPlaneHandles,
  cluster: string,
  at: string,
): Promise<string | undefined> {
  const byPosition = /^\d+$/.test(at);
  if (!byPosition && Number.isNaN(new Date(at).getTime())) {
    throw new ValidationError([`--at "${at}": expected a position (digits) or an ISO timestamp`]);
  }
  const r = await h.pool.query<{ version: string | null }>(
    `select data->>'version' as version from events
     where type = 'ConfigVersionAssigned' and data->>'targetCluster' = $1
       and ${byPosition ? 'position <= $2' : 'recorded_at <= $2'}
     order by position desc limit 1`,
    [cluster, byPosition ? Number(at) : new Date(at)],
  );
  return r.rows[0]?.version ?? undefined;
}

export function fleetHandlers(h: () => ControlPlaneHandles): Record<string, Handler> {
  return {
    async ConfigDump(req) {
      const cluster = String(req.cluster ?? '');
      const node = String(req.node ?? '');
      const at = String(req.at ?? '');
      const version = at
        ? await assignedAt(h(), cluster, at)
        : (await h().xds.store.getAssignment(cluster))?.version;
      if (!version)
        throw new NotFoundError(
          `cluster ${cluster} had no config version assigned${at ? ` at ${at}` : ''}`,
        );
      const bundles = await h().xds.store.loadVersion(cluster, version);
      const bundle = bundles.get(node);
      if (!bundle) {
        throw new NotFoundError(
          `node ${node} has no config in version ${version} of ${cluster} (nodes: ${[...bundles.keys()].join(', ')})`,
        );
      }
      const resources = bundle.resources.map((r) => ({
        typeUrl: r.typeUrl,
        name: r.name,
        version: r.version,
        // JSON form: nested Any fields become {"@type": ..., ...fields}, as Envoy's config_dump.
        resource: (() => {
          const t = messageType(r.typeUrl);
          return t.toObject(t.decode(r.value), { json: true, longs: String, enums: String });
        })(),
      }));
      return {
        cluster,
        node,
        version,
        json: JSON.stringify({ cluster, node, version, resources }),
      };
    },
    async Plan() {
      const { controller, xds } = h();
      const fleet = controller.lastFleet();
      const latest = controller.latest;
      const clusters = [];
      for (const [name, cfg] of fleet?.clusters ?? []) {
        clusters.push({
          cluster: name,
          currentVersion: (await xds.store.getAssignment(name))?.version ?? '',
          nextVersion: latest?.version ?? '',
          nodes: [...cfg.nodes.keys()],
        });
      }
      return { clusters };
    },
    async ListClusters() {
      const { controller, xds } = h();
      const clusters = [];
      for (const c of await controller.list()) {
        const a = await xds.store.getAssignment(c.name);
        clusters.push({
          name: c.name,
          kind: c.kind,
          labels: c.labels,
          assignedVersion: a?.version ?? '',
          lastHeartbeat: '',
          online: c.online,
        });
      }
      return { clusters };
    },
    async ListNodes(req) {
      const { controller, xds } = h();
      const names = req.cluster
        ? [String(req.cluster)]
        : (await controller.list()).map((c) => c.name);
      const nodes = [];
      for (const cluster of names) {
        for (const n of xds.nodes.progress(cluster)) {
          const acked = n.types.filter((t) => t.at).map((t) => t.at!);
          nodes.push({
            cluster,
            node: n.node,
            connected: true,
            ackedVersion:
              acked.length > 0 && acked.every((v) => v === acked[0]) ? acked[0]! : acked.join(','),
            lastAckAt: '',
            nackVersion: n.lastNack?.version ?? '',
            nackMessage: n.lastNack?.message ?? '',
            nackAt: n.lastNack ? new Date(n.lastNack.at).toISOString() : '',
          });
        }
      }
      return { nodes };
    },
  };
}

export { scopeWorkflowId };
