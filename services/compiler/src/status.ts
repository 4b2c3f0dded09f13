/** Gateway API style status conditions, produced by the translation (never by I/O). */
export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False';
  readonly reason: string;
  readonly message: string;
}

export const CONTROLLER_NAME = 'shoal.dev/gateway-controller';

export function cond(type: string, ok: boolean, reason: string, message = ''): Condition {
  return { type, status: ok ? 'True' : 'False', reason, message };
}

export interface ParentStatus {
  readonly parentRef: Readonly<Record<string, string | number>>;
  readonly controllerName: string;
  readonly conditions: readonly Condition[];
}

export interface ListenerStatus {
  readonly name: string;
  readonly attachedRoutes: number;
  readonly supportedKinds: readonly { group: string; kind: string }[];
  readonly conditions: readonly Condition[];
}

/** Status of one resource in one cluster; `key` is "<Kind>/<namespace>/<name>". */
export interface ResourceStatus {
  readonly key: string;
  readonly conditions?: readonly Condition[];
  readonly listeners?: readonly ListenerStatus[];
  /** Routes: per parentRef. Policies: per ancestor (target), as Gateway API policy status. */
  readonly parents?: readonly ParentStatus[];
  readonly ancestors?: readonly ParentStatus[];
}

/** A problem that is not a status condition of one resource (reported in `errors`). */
export interface CompileIssue {
  readonly cluster: string;
  readonly resource: string;
  readonly reason: string;
}
