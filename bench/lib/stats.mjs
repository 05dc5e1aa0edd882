// Small, dependency-free statistics for interleaved rounds.

// Infinity is a value here (a process that never exited); NaN and undefined are missing values.
const present = (values) => values.filter((value) => typeof value === 'number' && !Number.isNaN(value));

export function median(values) {
  const sorted = present(values).sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function min(values) {
  const list = present(values);
  return list.length ? Math.min(...list) : NaN;
}

export function max(values) {
  const list = present(values);
  return list.length ? Math.max(...list) : NaN;
}

/** Nearest-rank percentile of a sample (p in 0–100). */
export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Median and min–max of a list of per-round values. */
export function summary(values) {
  return { median: median(values), min: min(values), max: max(values), n: present(values).length };
}

/** `values[i] / baseline[i]` for every round where both exist. */
export function ratios(values, baseline) {
  return values.map((value, i) =>
    typeof value === 'number' && Number.isFinite(baseline[i]) && baseline[i] !== 0 ? value / baseline[i] : NaN,
  );
}

/** Rotates a list by `by` places: round r runs the clients in a different order. */
export function rotate(list, by) {
  const k = ((by % list.length) + list.length) % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}
