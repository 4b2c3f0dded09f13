import { normalizeObject, CLUSTER_SCOPE, type ObservedResource } from '../core/resource.js';
import { isNamespaced, namespaceOf, parseManifests } from '@shoal/model';

/** One reason a manifest file is refused, with the place to fix it. */
export interface ManifestProblem {
  readonly file: string;
  /** 0-based document index within the file. */
  readonly document: number;
  readonly line: number;
  readonly column: number;
  /** Field path such as `spec.rules[0].backendRefs[0].port` ('' for the whole document). */
  readonly field: string;
  readonly reason: string;
}

/** Turns one file's text into resources, or problems. Pure. */
export interface ManifestValidator {
  parse(file: string, text: string): { resources: ObservedResource[]; problems: ManifestProblem[] };
}

/** The resource model's parser and validator (@shoal/model): same rules as the API applies. */
export const modelValidator: ManifestValidator = {
  parse(file, text) {
    const { resources, issues } = parseManifests(text, file);
    return {
      problems: issues.map((i) => ({
        file: i.file,
        document: i.document,
        line: i.line,
        column: i.column,
        field: i.path,
        reason: i.reason,
      })),
      resources: resources.map(({ resource }) => {
        const raw = resource as unknown as Record<string, unknown>;
        const meta = (raw.metadata ?? {}) as Record<string, unknown>;
        const namespace = isNamespaced(resource.kind) ? namespaceOf(resource) : CLUSTER_SCOPE;
        const generation = meta.generation;
        return {
          kind: resource.kind,
          namespace,
          name: resource.metadata.name,
          spec: normalizeObject(raw),
          ...(typeof generation === 'number' ? { resourceVersion: String(generation) } : {}),
        };
      }),
    };
  },
};
