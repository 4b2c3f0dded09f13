/**
 * Multi-document YAML → validated resources. Every problem in every document is collected with
 * its file, document index, line, column and field path; a bad document never hides the rest.
 */
import { LineCounter, isCollection, parseAllDocuments, type Document } from 'yaml';
import { ManifestInvalidError, type ValidationIssue } from './errors.js';
import { formatPath, isPlainObject, type FieldPath } from './schema.js';
import type { MeshResource } from './types.js';
import { validateObject } from './validate.js';

export interface ParsedManifest {
  readonly document: number;
  readonly resource: MeshResource;
}

export interface ParseResult {
  readonly resources: readonly ParsedManifest[];
  readonly issues: readonly ValidationIssue[];
}

export function parseManifests(text: string, file = ''): ParseResult {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const resources: ParsedManifest[] = [];
  const issues: ValidationIssue[] = [];
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, document) => {
    const at = (offset: number) => lineCounter.linePos(offset);
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const { line, col } = at(e.pos[0]);
        issues.push({
          file,
          document,
          line,
          column: col,
          path: '',
          reason: `YAML syntax: ${e.message.split('\n')[0]}`,
        });
      }
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // empty document ("---" at the end)
    const { resource, issues: found } = validateObject(value);
    const label = describe(value);
    for (const i of found) {
      const { line, col } = at(offsetOf(doc, i.path, i.reason.startsWith('unknown')));
      issues.push({
        file,
        document,
        line,
        column: col,
        path: formatPath(i.path),
        reason: i.reason,
        ...(label ? { resource: label } : {}),
      });
    }
    if (resource) resources.push({ document, resource });
  });
  return { resources, issues };
}

/** Like parseManifests, but throws ManifestInvalidError (with every issue) if any is invalid. */
export function parseManifestsOrThrow(text: string, file = ''): MeshResource[] {
  const { resources, issues } = parseManifests(text, file);
  if (issues.length > 0) throw new ManifestInvalidError(file, issues);
  return resources.map((r) => r.resource);
}

/**
 * Offset of the deepest node on `path` that exists (a missing field points at its parent; an
 * unknown field at its key, a bad value at the value).
 */
function offsetOf(doc: Document, path: FieldPath, atKey: boolean): number {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as
      { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) {
      // For an unknown key, point at the key rather than its value.
      if (atKey && n === path.length && n > 0) {
        const parent = doc.getIn(path.slice(0, n - 1), true);
        if (isCollection(parent)) {
          const pair = parent.items.find(
            (it) =>
              isKeyed(it) && String((it.key as { value?: unknown }).value) === String(path[n - 1]),
          );
          const key =
            pair && isKeyed(pair) ? (pair.key as { range?: [number, number, number] }) : undefined;
          if (key?.range) return key.range[0];
        }
      }
      return node.range[0];
    }
  }
  return doc.contents?.range?.[0] ?? 0;
}

function isKeyed(it: unknown): it is { key: unknown } {
  return (
    typeof it === 'object' &&
    it !== null &&
    'key' in it &&
    typeof (it as { key: unknown }).key === 'object'
  );
}

function describe(value: unknown): string | undefined {
  if (!isPlainObject(value) || typeof value.kind !== 'string') return undefined;
  const m = isPlainObject(value.metadata) ? value.metadata : {};
  const name = typeof m.name === 'string' ? m.name : '?';
  return `${value.kind} ${typeof m.namespace === 'string' ? `${m.namespace}/` : ''}${name}`;
}
