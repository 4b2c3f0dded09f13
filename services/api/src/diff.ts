import { stringify } from 'yaml';

/**
 * A line diff of two objects rendered as YAML (sorted keys), in unified style without hunks:
 * enough to read what changed between two versions of a resource.
 */
export function yamlDiff(before: unknown, after: unknown): string {
  const a =
    before === undefined ? [] : stringify(before, { sortMapEntries: true }).trimEnd().split('\n');
  const b =
    after === undefined ? [] : stringify(after, { sortMapEntries: true }).trimEnd().split('\n');
  // Longest common subsequence table (resources are small: a few hundred lines at most).
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] =
        a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      i++;
      j++;
    } else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      out.push(`- ${a[i++]}`);
    } else {
      out.push(`+ ${b[j++]}`);
    }
  }
  return out.join('\n');
}
