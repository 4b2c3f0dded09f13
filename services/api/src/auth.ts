import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { UnauthenticatedError } from './errors.js';
import { isRole, type Role } from './rbac.js';

/** Who is calling, as established by a token or a verified client certificate. */
export interface Principal {
  /** `token:<name>` or the certificate's SPIFFE id. */
  readonly actor: string;
  readonly role: Role;
  readonly method: 'token' | 'mtls';
  readonly tokenId?: string;
}

/** A token as the registry keeps it: never the secret, only its SHA-256. */
export interface TokenRecord {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly secretSha256: string;
  readonly issuedBy: string;
  readonly issuedAt: string;
  readonly revokedAt?: string;
}

/** Token records by id: a projection of ApiTokenIssued / ApiTokenRevoked events. */
export interface TokenRegistry {
  get(id: string): TokenRecord | undefined;
}

export class InMemoryTokenRegistry implements TokenRegistry {
  private readonly tokens = new Map<string, TokenRecord>();
  get(id: string): TokenRecord | undefined {
    return this.tokens.get(id);
  }
  put(rec: TokenRecord): void {
    this.tokens.set(rec.id, rec);
  }
  revoke(id: string, at: string): void {
    const t = this.tokens.get(id);
    if (t) this.tokens.set(id, { ...t, revokedAt: at });
  }
  list(): TokenRecord[] {
    return [...this.tokens.values()];
  }
}

const TOKEN = /^shoal_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** A new token: the secret is shown once; the record keeps its hash. */
export function mintToken(
  name: string,
  role: Role,
  issuedBy: string,
  now: Date,
): { token: string; record: TokenRecord } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return {
    token: `shoal_${id}_${secret}`,
    record: {
      id,
      name,
      role,
      secretSha256: sha256(secret),
      issuedBy,
      issuedAt: now.toISOString(),
    },
  };
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export function authenticateToken(header: string | undefined, registry: TokenRegistry): Principal {
  if (!header) {
    throw new UnauthenticatedError(
      'no credentials: pass an API token (SHOAL_TOKEN or --token) or use a client certificate',
    );
  }
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!m) throw new UnauthenticatedError('the authorization header must be "Bearer <token>"');
  const parts = TOKEN.exec(m[1]!);
  if (!parts) throw new UnauthenticatedError('malformed API token: expected shoal_<id>_<secret>');
  const rec = registry.get(parts[1]!);
  const given = Buffer.from(sha256(parts[2]!), 'hex');
  // Compare against a dummy hash for unknown ids too, so timing does not reveal which ids exist.
  const want = Buffer.from(rec?.secretSha256 ?? '0'.repeat(64), 'hex');
  if (!rec || !timingSafeEqual(given, want)) throw new UnauthenticatedError('unknown API token');
  if (rec.revokedAt)
    throw new UnauthenticatedError(`API token ${rec.id} was revoked at ${rec.revokedAt}`);
  if (!isRole(rec.role)) throw new UnauthenticatedError(`API token ${rec.id} has an unknown role`);
  return { actor: `token:${rec.name}`, role: rec.role, method: 'token', tokenId: rec.id };
}

/**
 * Machine clients authenticate with a client certificate verified against Shoal's CA; only
 * identities listed in the API's config get a role (node and agent certificates get none).
 */
export function authenticateCertificate(
  spiffeId: string | undefined,
  roles: ReadonlyMap<string, Role>,
): Principal | undefined {
  if (!spiffeId) return undefined;
  const role = roles.get(spiffeId);
  if (!role) return undefined;
  return { actor: spiffeId, role, method: 'mtls' };
}
