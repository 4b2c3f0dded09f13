import { ShoalError } from '@shoal/common';

/** One problem in one manifest: what is wrong and exactly where. */
export interface ValidationIssue {
  /** The file (or source name) the manifest came from; '' when validating a plain object. */
  readonly file: string;
  /** 0-based index of the YAML document in the file. */
  readonly document: number;
  /** 1-based line and column of the offending value (0 when unknown). */
  readonly line: number;
  readonly column: number;
  /** e.g. "spec.rules[0].matches[1].path.value" ('' for the whole document). */
  readonly path: string;
  readonly reason: string;
  /** kind/namespace/name when known, to find the object in a multi-document file. */
  readonly resource?: string;
}

/** "routes.yaml:12:7 (document 1, HTTPRoute default/web) spec.rules[0]: is required" */
export function formatIssue(i: ValidationIssue): string {
  const where = i.file ? `${i.file}${i.line ? `:${i.line}:${i.column}` : ''} ` : '';
  const doc = `(document ${i.document}${i.resource ? `, ${i.resource}` : ''})`;
  return `${where}${doc} ${i.path ? `${i.path}: ` : ''}${i.reason}`;
}

/** Raised by `parseManifestsOrThrow` when any document is invalid; carries every issue. */
export class ManifestInvalidError extends ShoalError {
  readonly issues: readonly ValidationIssue[];
  constructor(file: string, issues: readonly ValidationIssue[]) {
    super(
      'MANIFEST_INVALID',
      `${file || 'manifest'}: ${issues.length} problem${issues.length === 1 ? '' : 's'}; fix them and apply again:\n` +
        issues.map((i) => `  - ${formatIssue(i)}`).join('\n'),
      { details: { file, count: issues.length } },
    );
    this.issues = issues;
  }
}
