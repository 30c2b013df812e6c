/** Nearest-rank percentile (p in 0..100) of an unsorted sample; null for an empty one. */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function median(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function min(values) {
  return values.length ? Math.min(...values) : null;
}

export function max(values) {
  return values.length ? Math.max(...values) : null;
}

/** Median and spread of a sample; nulls (a measurement the platform could not take) are left out. */
export function summarize(values) {
  const present = values.filter((v) => v != null);
  return { n: present.length, median: median(present), min: min(present), max: max(present), values };
}

/** a / b, or null when either side is missing. */
export function ratio(a, b) {
  return a == null || b == null || b === 0 ? null : a / b;
}
