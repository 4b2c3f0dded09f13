/**
 * Validation of one object (already parsed from YAML or JSON) into a typed MeshResource.
 * Fields the Kubernetes API server adds (status, metadata.managedFields...) are ignored.
 */
import { KINDS, SPEC_OPTIONAL } from './kinds/index.js';
import { metadata } from './kinds/common.js';
import { isPlainObject, validate, type FieldPath, type SchemaIssue } from './schema.js';
import type { MeshResource } from './types.js';

const TOP_LEVEL_IGNORED = new Set(['status']);

export interface ObjectValidation {
  /** Set when there are no issues; namespaced kinds get metadata.namespace "default" if absent. */
  readonly resource?: MeshResource;
  readonly issues: readonly SchemaIssue[];
}

export function validateObject(value: unknown): ObjectValidation {
  const issues: SchemaIssue[] = [];
  const report = (path: FieldPath, reason: string) => issues.push({ path, reason });
  if (!isPlainObject(value)) {
    report([], 'expected a Kubernetes-style object with apiVersion, kind, metadata and spec');
    return { issues };
  }
  const { apiVersion, kind } = value;
  if (typeof kind !== 'string') {
    report(['kind'], kind === undefined ? 'is required' : 'expected a string');
    return { issues };
  }
  const info = KINDS.get(kind);
  if (!info) {
    report(['kind'], `unknown kind "${kind}"; Shoal accepts ${[...KINDS.keys()].join(', ')}`);
    return { issues };
  }
  if (typeof apiVersion !== 'string')
    report(['apiVersion'], apiVersion === undefined ? 'is required' : 'expected a string');
  else if (!info.apiVersions.includes(apiVersion))
    report(
      ['apiVersion'],
      `"${apiVersion}" is not an apiVersion of ${kind}; use ${info.apiVersions.map((v) => `"${v}"`).join(' or ')}`,
    );

  if (value.metadata === undefined) report(['metadata'], 'is required');
  else validate(metadata(info.namespaced, info.nameFormat), value.metadata, ['metadata'], report);

  const known = new Set(['apiVersion', 'kind', 'metadata']);
  if (info.topLevel && info.spec.t === 'object') {
    for (const [name, field] of Object.entries(info.spec.fields)) {
      known.add(name);
      if (value[name] !== undefined) validate(field.schema, value[name], [name], report);
    }
  } else {
    known.add('spec');
    if (value.spec === undefined || value.spec === null) {
      if (!SPEC_OPTIONAL.has(kind)) report(['spec'], 'is required');
    } else validate(info.spec, value.spec, ['spec'], report);
  }
  for (const name of Object.keys(value)) {
    if (!known.has(name) && !TOP_LEVEL_IGNORED.has(name))
      report([name], `unknown top-level field "${name}"`);
  }
  if (issues.length > 0) return { issues };

  const meta = value.metadata as Record<string, unknown>;
  const normalized = {
    ...value,
    metadata: info.namespaced ? { ...meta, namespace: meta.namespace ?? 'default' } : meta,
    ...(info.topLevel ? {} : { spec: value.spec ?? {} }),
  };
  delete (normalized as Record<string, unknown>).status;
  return { resource: normalized as unknown as MeshResource, issues };
}
