/**
 * Test support: golden-case inputs are multi-document YAML where a line "# cluster: <name>"
 * switches the cluster the following documents belong to (default "east").
 */
import { parseManifests, formatIssue, type PlacedResource } from '@shoal/model';

export function parseCase(
  text: string,
  file: string,
): { state: PlacedResource[]; issues: string[] } {
  const state: PlacedResource[] = [];
  const issues: string[] = [];
  const parts = text.split(/^# cluster: *(\S+) *$/m);
  // parts = [before, name1, text1, name2, text2, ...]
  const segments: [string, string][] = [['east', parts[0] ?? '']];
  for (let i = 1; i < parts.length; i += 2) segments.push([parts[i]!, parts[i + 1] ?? '']);
  for (const [cluster, body] of segments) {
    const r = parseManifests(body, `${file}#${cluster}`);
    issues.push(...r.issues.map(formatIssue));
    for (const m of r.resources) state.push({ cluster, resource: m.resource });
  }
  return { state, issues };
}
