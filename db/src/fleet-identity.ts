import type pg from 'pg';

/**
 * The fleet's identity (migration 0002): a random id made once with the store. Names what this
 * fleet owns outside PostgreSQL, such as its Temporal workflows.
 */
export async function fleetIdentity(pool: pg.Pool | pg.ClientBase): Promise<string> {
  const { rows } = await pool.query<{ id: string }>('select id from fleet_identity');
  const id = rows[0]?.id;
  if (!id)
    throw new Error(
      'the store has no fleet identity (table fleet_identity is empty): run the migrations ' +
        '(any Shoal service does at start) or restore the row from a backup of this store',
    );
  return id;
}

/**
 * The rollout scope of a fleet: the name its Temporal workflows carry. Twelve hex digits of the
 * identity keep workflow ids short and make a clash between two fleets sharing a namespace a
 * one-in-2^48 event.
 */
export function fleetRolloutScope(identity: string): string {
  return `fleet-${identity.replaceAll('-', '').slice(0, 12)}`;
}
