import { verdict } from './format.js';

/** BENCH.md's targets, one row each, judged per store or mode (`columns`): the printed table and the results' `pass`. */
export function targetRows(columns) {
  const pass = {};
  const rows = [];
  return {
    pass,
    /**
     * A target's row: `cell(column)` returns `{ text, passed }` (passed null: nothing to judge), or null where
     * the target does not apply.
     */
    row(label, cell) {
      const cells = columns.map(cell);
      pass[label] = cells.map((c) => c?.passed ?? null);
      rows.push([label, ...cells.map((c) => c && (c.passed == null ? c.text : verdict(c.text, c.passed)))]);
    },
    table: (labels) => ({ title: 'targets (BENCH.md)', columns: ['target', ...labels], rows }),
  };
}
