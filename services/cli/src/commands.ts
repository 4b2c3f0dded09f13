import type { ApiClient } from './client.js';
import { UsageError } from './exit.js';
import { loadManifests } from './manifests.js';
import { render, table, type Format } from './output.js';

export interface Args {
  readonly positional: readonly string[];
  readonly flags: Map<string, string>;
  readonly multi: Map<string, string[]>;
}

export interface Io {
  out(text: string): void;
  readonly isTTY: boolean;
}

export interface Command {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  readonly flags?: readonly string[];
  run(api: ApiClient, args: Args, io: Io): Promise<void>;
}

function format(args: Args): Format {
  const f = args.flags.get('o') ?? args.flags.get('output') ?? 'table';
  if (f !== 'table' && f !== 'json' && f !== 'yaml')
    throw new UsageError(`-o ${f}: expected table, json or yaml`);
  return f;
}

function need(args: Args, i: number, what: string): string {
  const v = args.positional[i];
  if (!v) throw new UsageError(`missing ${what}`);
  return v;
}

/** KIND/NAME or KIND NAME; NAME may be NAMESPACE/NAME. */
function resourceRef(args: Args, from: number): { kind: string; namespace: string; name: string } {
  const first = need(args, from, 'KIND/NAME');
  const [kind, ...rest] = first.split('/');
  const tail = rest.length > 0 ? rest.join('/') : (args.positional[from + 1] ?? '');
  if (!kind || !tail) throw new UsageError(`expected KIND/NAME or KIND NAME, got "${first}"`);
  const parts = tail.split('/');
  const name = parts.pop()!;
  // Empty: the API picks "default" for namespaced kinds and none for cluster-scoped ones.
  const namespace = parts[0] ?? args.flags.get('namespace') ?? args.flags.get('n') ?? '';
  return { kind, namespace, name };
}

const applyLike = (method: 'Apply' | 'Diff') => async (api: ApiClient, args: Args, io: Io) => {
  const files = args.multi.get('f') ?? args.multi.get('filename') ?? [];
  if (files.length === 0) throw new UsageError('-f FILE|DIR is required');
  const manifests = loadManifests(files);
  const res = await api.call<{
    changes: {
      cluster: string;
      kind: string;
      namespace: string;
      name: string;
      action: string;
      version: number;
      diff: string;
    }[];
    nodes?: {
      cluster: string;
      node: string;
      fromVersion: string;
      toVersion: string;
      changedResources: string[];
    }[];
  }>(method, {
    manifests,
    cluster: args.flags.get('cluster') ?? '',
    dryRun: method === 'Diff' || args.flags.has('dry-run'),
    reason: args.flags.get('reason') ?? '',
  });
  if (format(args) !== 'table') return io.out(render(res, format(args)));
  for (const c of res.changes) {
    const suffix = method === 'Apply' && args.flags.has('dry-run') ? ' (dry run)' : '';
    io.out(
      `${c.kind.toLowerCase()}/${c.namespace}/${c.name} ${c.action} in ${c.cluster || 'global'}${suffix}\n`,
    );
    if (method === 'Diff' && c.diff) io.out(c.diff.replace(/^/gm, '    ') + '\n');
  }
  for (const n of res.nodes ?? []) {
    io.out(
      `node ${n.cluster}/${n.node}: ${n.fromVersion || '-'} -> ${n.toVersion || '-'} (${n.changedResources.length} resources)\n`,
    );
    if (method === 'Diff') for (const r of n.changedResources) io.out(`    ${r}\n`);
  }
};

export const COMMANDS: readonly Command[] = [
  {
    name: 'apply',
    usage: 'shoal apply -f FILE|DIR [--cluster C] [--dry-run] [--reason TEXT]',
    summary: 'validate manifests and record them as the desired state',
    flags: ['f', 'cluster', 'dry-run', 'reason', 'o'],
    run: applyLike('Apply'),
  },
  {
    name: 'diff',
    usage: 'shoal diff -f FILE|DIR [--cluster C]',
    summary: 'what applying would change, per resource, cluster and node',
    flags: ['f', 'cluster', 'o'],
    run: applyLike('Diff'),
  },
  {
    name: 'delete',
    usage: 'shoal delete KIND/[NAMESPACE/]NAME [--cluster C] [--reason TEXT]',
    summary: 'remove a resource from the desired state',
    flags: ['cluster', 'reason', 'n'],
    async run(api, args, io) {
      const ref = resourceRef(args, 0);
      const res = await api.call<{ change: { action: string } }>('Delete', {
        ...ref,
        cluster: args.flags.get('cluster') ?? '',
        reason: args.flags.get('reason') ?? '',
      });
      io.out(`${ref.kind.toLowerCase()}/${ref.namespace}/${ref.name} ${res.change.action}\n`);
    },
  },
  {
    name: 'get',
    usage: 'shoal get KIND [NAME] [-n NAMESPACE] [--cluster C] [-o table|json|yaml]',
    summary: 'list resources of the desired state',
    flags: ['n', 'cluster', 'o'],
    async run(api, args, io) {
      const res = await api.call<{ resources: Record<string, unknown>[] }>('Get', {
        kind: need(args, 0, 'KIND'),
        name: args.positional[1] ?? '',
        namespace: args.flags.get('n') ?? '',
        cluster: args.flags.get('cluster') ?? '',
      });
      const f = format(args);
      if (f === 'table')
        return io.out(
          table(res.resources, ['cluster', 'namespace', 'name', 'version', 'updatedAt']),
        );
      io.out(
        render(
          res.resources.map((r) => JSON.parse(String(r.json)) as unknown),
          f,
        ),
      );
    },
  },
  {
    name: 'plan',
    usage: 'shoal plan',
    summary: 'the config version each cluster would get and which nodes it touches',
    flags: ['o'],
    async run(api, args, io) {
      const res = await api.call<{ clusters: Record<string, unknown>[] }>('Plan');
      io.out(
        render(res.clusters, format(args), ['cluster', 'currentVersion', 'nextVersion', 'nodes']),
      );
    },
  },
  {
    name: 'history',
    usage: 'shoal history KIND/[NAMESPACE/]NAME [--cluster C]',
    summary: 'every version of a resource: who, when, why, and the diff',
    flags: ['cluster', 'o', 'n'],
    async run(api, args, io) {
      const res = await api.call<{ entries: Record<string, unknown>[] }>('History', {
        ...resourceRef(args, 0),
        cluster: args.flags.get('cluster') ?? '',
      });
      if (format(args) !== 'table') return io.out(render(res.entries, format(args)));
      for (const e of res.entries) {
        io.out(
          `v${String(e.version)}  ${String(e.recordedAt)}  ${String(e.type)}  by ${String(e.actor)}` +
            (e.reason ? `  "${String(e.reason)}"` : '') +
            `  (position ${String(e.position)})\n`,
        );
        if (e.diff) io.out(String(e.diff).replace(/^/gm, '    ') + '\n');
      }
    },
  },
  {
    name: 'audit',
    usage: 'shoal audit [--since 1h|ISO] [--actor A] [--cluster C] [--kind K] | shoal audit verify',
    summary: 'the audit trail, or `audit verify` to check its hash chain',
    flags: ['since', 'actor', 'cluster', 'kind', 'limit', 'o'],
    async run(api, args, io) {
      if (args.positional[0] === 'verify') {
        const res = await api.call<{
          ok: boolean;
          checked: number;
          firstBrokenPosition: number;
          detail: string;
        }>('VerifyAudit', {}, 300_000);
        if (res.ok)
          return io.out(`audit trail verified: ${res.checked} events, hash chain intact\n`);
        throw Object.assign(
          new Error(`audit trail BROKEN at position ${res.firstBrokenPosition}: ${res.detail}`),
          { exitCode: 1 },
        );
      }
      const res = await api.call<{ entries: Record<string, unknown>[] }>('Audit', {
        since: args.flags.get('since') ?? '',
        actor: args.flags.get('actor') ?? '',
        cluster: args.flags.get('cluster') ?? '',
        kind: args.flags.get('kind') ?? '',
        limit: Number(args.flags.get('limit') ?? 200),
      });
      io.out(
        render(res.entries, format(args), [
          'position',
          'recordedAt',
          'type',
          'actor',
          'cluster',
          'summary',
          'reason',
        ]),
      );
    },
  },
  {
    name: 'state',
    usage: 'shoal state --at POSITION|TIMESTAMP [--cluster C] [-o table|json|yaml]',
    summary: 'the desired state as it was at a position or time',
    flags: ['at', 'cluster', 'o'],
    async run(api, args, io) {
      const at = args.flags.get('at');
      if (!at) throw new UsageError('--at POSITION|TIMESTAMP is required');
      const res = await api.call<{ position: number; resources: Record<string, unknown>[] }>(
        'StateAt',
        { at, cluster: args.flags.get('cluster') ?? '' },
      );
      const f = format(args);
      if (f === 'table') {
        io.out(`desired state at position ${res.position}:\n`);
        return io.out(table(res.resources, ['cluster', 'kind', 'namespace', 'name', 'version']));
      }
      io.out(
        render(
          {
            position: res.position,
            resources: res.resources.map((r) => JSON.parse(String(r.json)) as unknown),
          },
          f,
        ),
      );
    },
  },
  {
    name: 'config-dump',
    usage: 'shoal config-dump --node CLUSTER/NODE [--at POSITION|TIMESTAMP]',
    summary: 'the exact config a node was assigned (now or then)',
    flags: ['node', 'at'],
    async run(api, args, io) {
      const node = args.flags.get('node');
      if (!node || !node.includes('/')) throw new UsageError('--node CLUSTER/NODE is required');
      const [cluster, name] = node.split('/') as [string, string];
      const res = await api.call<{ version: string; json: string }>('ConfigDump', {
        cluster,
        node: name,
        at: args.flags.get('at') ?? '',
      });
      io.out(
        `# ${cluster}/${name} config version ${res.version}\n${JSON.stringify(JSON.parse(res.json), null, 2)}\n`,
      );
    },
  },
  {
    name: 'clusters',
    usage: 'shoal clusters [-o table|json|yaml]',
    summary: 'clusters and edge sites with their assigned version and heartbeat',
    flags: ['o'],
    async run(api, args, io) {
      const res = await api.call<{ clusters: Record<string, unknown>[] }>('ListClusters');
      io.out(
        render(res.clusters, format(args), [
          'name',
          'kind',
          'online',
          'assignedVersion',
          'lastHeartbeat',
        ]),
      );
    },
  },
  {
    name: 'nodes',
    usage: 'shoal nodes [--cluster C] [-o table|json|yaml]',
    summary: 'nodes with their ACKed version, last ACK and last NACK (never hidden)',
    flags: ['cluster', 'o'],
    async run(api, args, io) {
      const res = await api.call<{ nodes: Record<string, unknown>[] }>('ListNodes', {
        cluster: args.flags.get('cluster') ?? '',
      });
      io.out(
        render(res.nodes, format(args), [
          'cluster',
          'node',
          'connected',
          'ackedVersion',
          'lastAckAt',
          'nackVersion',
          'nackMessage',
        ]),
      );
    },
  },
  {
    name: 'status',
    usage: 'shoal status',
    summary: 'whether each part of the local stack and control plane is up',
    flags: ['o'],
    async run(api, args, io) {
      const res = await api.call<{ components: Record<string, unknown>[] }>('Status');
      io.out(render(res.components, format(args), ['name', 'up', 'detail']));
    },
  },
  {
    name: 'whoami',
    usage: 'shoal whoami',
    summary: 'who the API thinks you are, and your role',
    async run(api, _args, io) {
      const res = await api.call<{ actor: string; role: string; authMethod: string }>('WhoAmI');
      io.out(`${res.actor} (role ${res.role}, by ${res.authMethod})\n`);
    },
  },
  {
    name: 'token',
    usage: 'shoal token issue NAME --role viewer|operator|auditor|admin | shoal token revoke ID',
    summary: 'issue or revoke API tokens (admin)',
    flags: ['role', 'reason'],
    async run(api, args, io) {
      const sub = need(args, 0, 'issue or revoke');
      if (sub === 'issue') {
        const res = await api.call<{ id: string; token: string; role: string }>('IssueToken', {
          name: need(args, 1, 'NAME'),
          role: args.flags.get('role') ?? 'viewer',
          reason: args.flags.get('reason') ?? '',
        });
        return io.out(`token ${res.id} (${res.role}); shown once, keep it safe:\n${res.token}\n`);
      }
      if (sub === 'revoke') {
        await api.call('RevokeToken', {
          id: need(args, 1, 'ID'),
          reason: args.flags.get('reason') ?? '',
        });
        return io.out(`token ${args.positional[1]} revoked\n`);
      }
      throw new UsageError(`unknown token command "${sub}": expected issue or revoke`);
    },
  },
];
