/** The first column (labels) is left-aligned, the others (figures) right-aligned so that they line up. */
export function formatTable({ title, columns, rows }) {
  const cells = rows.map((row) => row.map((cell) => (cell == null ? '—' : String(cell))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  const out = [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
  return (title ? [title, ...out] : out).join('\n');
}

export function printTable(table) {
  console.log(`\n${formatTable(table)}`);
}
