const PART = /([0-9]+)(h|ms|m|s)/g;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Milliseconds of a Gateway-API/Go-style duration ("1h30m", "500ms"), already validated. */
export function parseDuration(d: string): number {
  let ms = 0;
  for (const m of d.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms;
}
