import { setRolesWith } from './errors.js';

/**
 * Roles and what they may do. Least privilege: a viewer reads the mesh, an operator changes it
 * and drives rollouts, an auditor reads the audit trail and verifies it, an admin manages tokens
 * and clusters (and may do everything else).
 */
export const ROLES = ['viewer', 'operator', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = ['read', 'write', 'rollout', 'audit', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

const GRANTS: Record<Role, readonly Permission[]> = {
  viewer: ['read'],
  operator: ['read', 'write', 'rollout'],
  auditor: ['read', 'audit'],
  admin: ['read', 'write', 'rollout', 'audit', 'admin'],
};

/** The permission each API method needs. A method missing here is refused (fail closed). */
export const METHOD_PERMISSIONS: Readonly<Record<string, Permission>> = {
  WhoAmI: 'read',
  Status: 'read',
  Get: 'read',
  Diff: 'read',
  Plan: 'read',
  History: 'read',
  StateAt: 'read',
  ConfigDump: 'read',
  ListClusters: 'read',
  ListNodes: 'read',
  GetRollout: 'read',
  ListRollouts: 'read',
  Apply: 'write',
  Delete: 'write',
  StartRollout: 'rollout',
  ControlRollout: 'rollout',
  Audit: 'audit',
  VerifyAudit: 'audit',
  IssueToken: 'admin',
  RevokeToken: 'admin',
};

export function isRole(v: string): v is Role {
  return (ROLES as readonly string[]).includes(v);
}

export function can(role: Role, perm: Permission): boolean {
  return GRANTS[role].includes(perm);
}

export function rolesWith(perm: string): Role[] {
  return ROLES.filter((r) => (GRANTS[r] as readonly string[]).includes(perm));
}

setRolesWith(rolesWith);
