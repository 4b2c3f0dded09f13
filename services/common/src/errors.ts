/**
 * Base class for every error Shoal raises on purpose. Each carries a stable `code` (mapped to a
 * gRPC status or CLI exit code at the edge only), the ids needed to act on it, and its `cause`.
 */
export class ShoalError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** One bad configuration value: which setting, what was wrong, what to do. */
export interface ConfigIssue {
  readonly setting: string;
  readonly problem: string;
}

export class ConfigError extends ShoalError {
  readonly issues: readonly ConfigIssue[];

  constructor(service: string, issues: readonly ConfigIssue[]) {
    super(
      'CONFIG_INVALID',
      `${service}: invalid configuration:\n` +
        issues.map((i) => `  - ${i.setting}: ${i.problem}`).join('\n'),
      { details: { service } },
    );
    this.issues = issues;
  }
}

/** A tool or server that Shoal needs is missing or unreachable; the message says what to do. */
export class PrerequisiteError extends ShoalError {
  constructor(what: string, message: string, cause?: unknown) {
    super('PREREQUISITE_MISSING', message, { cause, details: { what } });
  }
}
