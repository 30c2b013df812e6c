// Cells of the printed tables: each takes a figure (null when it could not be measured, printed as '—').

export const fixed = (digits) => (v) => (v == null ? null : v.toFixed(digits));
export const perSecond = (v) => (v == null ? null : v.toFixed(0));
export const megabytes = (v) => (v == null ? null : (v / 1e6).toFixed(1));
export const percent = (v) => (v == null ? null : `${(v * 100).toFixed(0)}%`);
export const times = (r) => (r == null ? null : `${r.toFixed(2)}×`);

/** The median of the rounds with their min–max (a `summarize` result), each in `unit`. */
export const spread = (s, unit) => (s.n ? `${unit(s.median)} (${unit(s.min)}–${unit(s.max)})` : null);

/** A target's figure and whether it was met. */
export const verdict = (text, passed) => (text == null ? null : `${text} ${passed ? 'PASS' : 'FAIL'}`);

/** A difference in ms, signed (Parley's figure less its baseline's). */
export const plusMs = (v) => (v == null ? null : `${v >= 0 ? '+' : ''}${v.toFixed(2)}`);
