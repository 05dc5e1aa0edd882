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

/**
 * The order of the clients in round `round`: a Williams design, so that over a whole cycle every
 * client runs in every position equally often and directly after every other client equally often
 * (a round's leftovers — garbage, a warm or cold CPU, the previous client's load on the server —
 * fall on each client alike). A cycle is `n` rounds for an even number of clients and `2n` for an
 * odd one (the second half runs the first half's orders backwards).
 */
export function balancedOrder(list, round) {
  const n = list.length;
  const base = [0]; // 0, 1, n-1, 2, n-2, …: the steps between neighbours are all different
  for (let lo = 1, hi = n - 1; base.length < n; ) base.push(base.length % 2 ? lo++ : hi--);
  const shift = round % n;
  const order = base.map((k) => list[(k + shift) % n]);
  return n % 2 === 1 && Math.floor(round / n) % 2 === 1 ? order.reverse() : order;
}

/** How many rounds make whole cycles of {@link balancedOrder} for `n` clients. */
export const balancedCycle = (n) => (n % 2 ? 2 * n : n);
