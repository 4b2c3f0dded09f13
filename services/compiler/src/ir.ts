/**
 * The intermediate representation between Gateway API and xDS (as Envoy Gateway's IR): plain
 * data, already resolved (backends, policies), ordered by precedence, free of Kubernetes shapes.
 */
import type { HeaderModifier, JwtProvider, SecurityPolicy } from '@shoal/model';

export interface IRBackend {
  readonly cluster: string;
  readonly eds: string;
  readonly weight: number;
}

export interface IRStringMatch {
  readonly type: 'Exact' | 'Prefix' | 'RegularExpression';
  readonly value: string;
}

export interface IRMatch {
  readonly path?: IRStringMatch;
  readonly headers: readonly { readonly name: string; readonly match: IRStringMatch }[];
  readonly queryParams: readonly { readonly name: string; readonly match: IRStringMatch }[];
}

export interface IRRetry {
  readonly numRetries: number;
  readonly retryOn: string;
  readonly statusCodes: readonly number[];
  readonly perTryTimeoutMs?: number;
  readonly baseIntervalMs?: number;
  readonly maxIntervalMs?: number;
}

export interface IRSecurity {
  readonly policy: string;
  /** Set when the policy is invalid: the routes it targets fail closed with this status. */
  readonly failClosed?: string;
  readonly spec: SecurityPolicy['spec'];
  readonly jwtProviders: readonly JwtProvider[];
  /** Resolved basic-auth users in htpasswd format. */
  readonly htpasswd?: string;
}

export interface IRRoute {
  readonly name: string;
  readonly match: IRMatch;
  readonly action:
    | {
        readonly type: 'route';
        readonly backends: readonly IRBackend[];
        readonly invalidWeight: number;
      }
    | {
        readonly type: 'redirect';
        readonly scheme?: string;
        readonly host?: string;
        readonly port?: number;
        readonly path?: { readonly full?: string; readonly prefix?: string };
        readonly status: number;
      }
    | { readonly type: 'direct'; readonly status: number; readonly body: string };
  readonly requestHeaders?: HeaderModifier;
  readonly responseHeaders?: HeaderModifier;
  readonly rewrite?: {
    readonly host?: string;
    readonly fullPath?: string;
    readonly prefix?: string;
  };
  readonly mirrors: readonly { readonly cluster: string; readonly percent: number }[];
  readonly timeoutMs?: number;
  readonly retry?: IRRetry;
  readonly rateLimit?: { readonly requests: number; readonly unitSeconds: number };
  readonly security?: IRSecurity;
}

export interface IRVirtualHost {
  readonly name: string;
  readonly domains: readonly string[];
  readonly routes: readonly IRRoute[];
}

/** Cluster-level settings from a BackendTrafficPolicy (circuit breakers, LB, health checks). */
export interface IRClusterSettings {
  readonly policy: string;
  readonly connectTimeoutMs?: number;
  readonly idleTimeoutMs?: number;
  readonly circuitBreaker?: Readonly<Record<string, number | undefined>>;
  readonly lb?: {
    readonly type: string;
    readonly hashHeader?: string;
    readonly hashSourceIp?: boolean;
  };
  readonly activeHealth?: {
    readonly timeoutMs: number;
    readonly intervalMs: number;
    readonly unhealthy: number;
    readonly healthy: number;
    readonly httpPath?: string;
    readonly expected?: readonly number[];
  };
  readonly passiveHealth?: {
    readonly consecutive5xx?: number;
    readonly consecutiveGateway?: number;
    readonly intervalMs?: number;
    readonly baseEjectionMs?: number;
    readonly maxEjectionPercent?: number;
  };
}

export interface IRCluster {
  readonly name: string;
  readonly eds: string;
  readonly settings?: IRClusterSettings;
}
