import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './exit.js';

/** Where the API is and how to talk to it. */
export interface Connection {
  readonly server: string;
  readonly caPem: string;
  /** The API's SPIFFE id to verify instead of a host name (Shoal's certificates carry URI SANs). */
  readonly serverId?: string;
  readonly token?: string;
  readonly certPem?: string;
  readonly keyPem?: string;
}

/** What `npm start` writes to `.shoal/cli.json` so that `npx shoal` works from the repo. */
export interface CliContextFile {
  readonly server: string;
  readonly caFile: string;
  readonly serverId?: string;
  readonly tokenFile?: string;
}

function findContextFile(start: string): string | undefined {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    const p = join(dir, '.shoal', 'cli.json');
    if (existsSync(p)) return p;
    if (dir === dirname(dir)) return undefined;
  }
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

/** Flags win over environment variables, which win over the context file of `npm start`. */
export function resolveConnection(
  flags: Map<string, string>,
  env = process.env,
  cwd = process.cwd(),
): Connection {
  const ctxPath = env.SHOAL_CONFIG ?? findContextFile(cwd);
  const explicit = flags.get('server') ?? env.SHOAL_SERVER;
  // The context file describes the API `npm start` runs: none of it applies to another server
  // named by a flag or SHOAL_SERVER (its CA, SPIFFE id and token are that API's).
  const ctx =
    ctxPath && existsSync(ctxPath) && (!explicit || env.SHOAL_CONFIG)
      ? (JSON.parse(read(ctxPath, 'CLI context')) as CliContextFile)
      : undefined;
  const base = ctxPath ? dirname(ctxPath) : cwd;
  const server = explicit ?? ctx?.server;
  if (!server) {
    throw new UsageError(
      'no Shoal API to talk to: run `npm start` in this repository (it writes .shoal/cli.json), ' +
        'or set SHOAL_SERVER (host:port) and SHOAL_CA (CA certificate file)',
    );
  }
  const caFile = flags.get('ca') ?? env.SHOAL_CA ?? (ctx ? resolve(base, ctx.caFile) : undefined);
  if (!caFile)
    throw new UsageError('no CA certificate to verify the API server: set SHOAL_CA or --ca');
  let token = flags.get('token') ?? env.SHOAL_TOKEN;
  const tokenFile =
    flags.get('token-file') ??
    env.SHOAL_TOKEN_FILE ??
    (ctx?.tokenFile ? resolve(base, ctx.tokenFile) : undefined);
  if (!token && tokenFile && existsSync(tokenFile)) token = read(tokenFile, 'token file').trim();
  const certFile = flags.get('cert') ?? env.SHOAL_CERT;
  const keyFile = flags.get('key') ?? env.SHOAL_KEY;
  const serverId = flags.get('server-id') ?? env.SHOAL_SERVER_ID ?? ctx?.serverId;
  return {
    server,
    caPem: read(caFile, 'CA certificate'),
    ...(serverId ? { serverId } : {}),
    ...(token ? { token } : {}),
    ...(certFile && keyFile
      ? { certPem: read(certFile, 'client certificate'), keyPem: read(keyFile, 'client key') }
      : {}),
  };
}
