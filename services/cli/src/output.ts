import { stringify } from 'yaml';

export type Format = 'table' | 'json' | 'yaml';

/** A plain aligned table: header row in capitals, as kubectl prints. */
export function table(
  rows: readonly Record<string, unknown>[],
  columns: readonly string[],
): string {
  if (rows.length === 0) return 'No resources found.\n';
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const header = columns.map((c) => c.toUpperCase());
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)].join('\n') + '\n';
}

function cell(v: unknown): string {
  if (v === undefined || v === null || v === '') return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function render(data: unknown, format: Format, columns?: readonly string[]): string {
  if (format === 'json') return JSON.stringify(data, null, 2) + '\n';
  if (format === 'yaml') return stringify(data);
  const rows = Array.isArray(data)
    ? (data as Record<string, unknown>[])
    : [data as Record<string, unknown>];
  return table(rows, columns ?? Object.keys(rows[0] ?? {}));
}
