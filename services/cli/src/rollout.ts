import type { ApiClient } from './client.js';
import type { Args, Command, Io } from './commands.js';
import { CliError, ExitCode, UsageError } from './exit.js';
import { render } from './output.js';

interface Wave {
  name: string;
  state: string;
  clusters: string[];
  nodesTotal: number;
  nodesAcked: number;
  reason: string;
}
interface Status {
  id: string;
  state: string;
  version: string;
  waves: Wave[];
  reason: string;
  startedAt: string;
  updatedAt: string;
}

const TERMINAL = new Set(['completed', 'rolled-back', 'aborted', 'failed', 'superseded']);

export function describeRollout(s: Status): string {
  const lines = [
    `rollout ${s.id}  version ${s.version}  ${s.state.toUpperCase()}${s.reason ? `: ${s.reason}` : ''}`,
  ];
  for (const w of s.waves) {
    const bar = w.nodesTotal > 0 ? ` ${w.nodesAcked}/${w.nodesTotal} nodes acked` : '';
    lines.push(
      `  ${w.name.padEnd(10)} ${w.state.padEnd(18)}${bar}  [${w.clusters.join(', ')}]${w.reason ? `  ${w.reason}` : ''}`,
    );
  }
  return lines.join('\n') + '\n';
}

/** Follow a rollout: redraw in place on a terminal, one line per change otherwise. */
async function watch(api: ApiClient, id: string, io: Io): Promise<Status> {
  let last = '';
  for (;;) {
    const s = await api.call<Status>('GetRollout', { id });
    const text = describeRollout(s);
    if (text !== last) {
      if (io.isTTY && last) io.out(`\x1b[${last.split('\n').length - 1}A\x1b[J`);
      io.out(io.isTTY ? text : `${new Date().toISOString()} ${text.split('\n')[0]}\n`);
      last = text;
    }
    if (TERMINAL.has(s.state)) return s;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export const rolloutCommand: Command = {
  name: 'rollout',
  usage:
    'shoal rollout start [--version V] [--policy P] [--watch] | status ID [--watch] | list | ' +
    'pause ID | resume ID | approve ID --wave W | abort ID [--reason TEXT]',
  summary: 'start, follow and steer staged rollouts',
  flags: ['version', 'policy', 'watch', 'wave', 'reason', 'o'],
  async run(api: ApiClient, args: Args, io: Io) {
    const sub = args.positional[0];
    const id = args.positional[1] ?? '';
    const reason = args.flags.get('reason') ?? '';
    switch (sub) {
      case 'start': {
        const s = await api.call<Status>('StartRollout', {
          version: args.flags.get('version') ?? '',
          policy: args.flags.get('policy') ?? '',
          reason,
        });
        io.out(`rollout ${s.id} started for version ${s.version}\n`);
        if (args.flags.has('watch')) finish(await watch(api, s.id, io));
        return;
      }
      case 'status': {
        if (!id)
          throw new UsageError('rollout status needs a rollout id (see `shoal rollout list`)');
        if (args.flags.has('watch')) return finish(await watch(api, id, io));
        const s = await api.call<Status>('GetRollout', { id });
        return io.out(args.flags.has('o') ? render(s, 'json') : describeRollout(s));
      }
      case 'list': {
        const res = await api.call<{ rollouts: Status[] }>('ListRollouts', { limit: 50 });
        return io.out(
          render(res.rollouts, 'table', ['id', 'version', 'state', 'startedAt', 'reason']),
        );
      }
      case 'pause':
      case 'resume':
      case 'abort':
      case 'approve': {
        if (!id) throw new UsageError(`rollout ${sub} needs a rollout id`);
        const wave = args.flags.get('wave') ?? '';
        if (sub === 'approve' && !wave) throw new UsageError('rollout approve needs --wave NAME');
        const s = await api.call<Status>('ControlRollout', { id, action: sub, wave, reason });
        return io.out(describeRollout(s));
      }
      default:
        throw new UsageError(
          `unknown rollout command "${sub ?? ''}": expected start, status, list, pause, resume, approve or abort`,
        );
    }
  },
};

function finish(s: Status): void {
  if (s.state !== 'completed')
    throw new CliError(`rollout ${s.id} ended ${s.state}: ${s.reason}`, ExitCode.failure);
}
