import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatIssue, parseManifests, type ValidationIssue } from '@shoal/model';
import { CliError, ExitCode } from './exit.js';

export interface LoadedManifest {
  readonly file: string;
  readonly document: number;
  readonly json: string;
}

/** The YAML files of -f: a file, or every .yaml/.yml/.json file under a folder (sorted). */
export function manifestFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new CliError(`-f ${p}: no such file or folder`, ExitCode.usage);
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        if (name.startsWith('.')) continue;
        const child = join(p, name);
        if (statSync(child).isDirectory() || /\.(ya?ml|json)$/.test(name)) walk(child);
      }
    } else out.push(p);
  };
  paths.forEach(walk);
  return out;
}

/**
 * Read and validate every document before anything is sent: on any error, every error is
 * reported (file, line, column, field, reason) and nothing reaches the API.
 */
export function loadManifests(paths: readonly string[]): LoadedManifest[] {
  const loaded: LoadedManifest[] = [];
  const issues: ValidationIssue[] = [];
  for (const file of manifestFiles(paths)) {
    const res = parseManifests(readFileSync(file, 'utf8'), file);
    issues.push(...res.issues);
    for (const r of res.resources)
      loaded.push({ file, document: r.document, json: JSON.stringify(r.resource) });
  }
  if (issues.length > 0) {
    throw new CliError(
      `${issues.length} error${issues.length === 1 ? '' : 's'} in the manifests; nothing was applied:\n` +
        issues.map((i) => `  ${formatIssue(i)}`).join('\n'),
      ExitCode.validation,
    );
  }
  if (loaded.length === 0)
    throw new CliError(`no resources found in ${paths.join(', ')}`, ExitCode.usage);
  return loaded;
}
