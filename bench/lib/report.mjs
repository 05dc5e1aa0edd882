// Turns one run's results into the markdown table and the SVG chart.

export const NAMES = {
  raw: 'ws (raw)',
  raw2: 'ws (raw), A/A control',
  native: 'WebSocket (native)',
  native2: 'WebSocket (native), A/A control',
  steadysocket: '**steadysocket**',
  rws: 'reconnecting-websocket',
  partysocket: 'partysocket',
  json: 'steadysocket (json codec, no acks)',
  json2: 'steadysocket (json codec, no acks), A/A control',
  acks: '**steadysocket + acks()**',
};

const plain = (client) => NAMES[client].replace(/\*/g, '');

const group = (value, digits) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '—';

/** A value in the metric's unit and precision. */
export function format(metric, value) {
  if (value === Infinity) return `> ${group(metric.cap, 0)}`;
  return group(metric.scale ? value / metric.scale : value, metric.digits ?? 1);
}

const ratioText = (value) => (value === Infinity ? '∞' : Number.isFinite(value) ? `${value.toFixed(3)}×` : '—');

/** One markdown table for every measure: medians, ranges over rounds, per-round ratios. */
export function markdownTable(measures) {
  const lines = [
    '| Measure | Client | Median | Range (min–max) | Ratio vs raw, median | Ratio range | Target |',
    '|---|---|--:|--:|--:|--:|---|',
  ];
  for (const measure of measures) {
    if (!measure.metrics) continue;
    for (const metric of measure.metrics) {
      let first = true;
      for (const client of measure.clients) {
        const row = metric.perClient[client];
        if (!row) continue;
        const isBaseline = client === measure.baseline;
        const label = first ? `${measure.title}: ${metric.label} (${metric.unit})` : '';
        first = false;
        const target = client === 'steadysocket' ? metric.targetText ?? '' : '';
        lines.push(
          `| ${label} | ${NAMES[client]} | ${format(metric, row.summary.median)} | ${format(metric, row.summary.min)}–${format(metric, row.summary.max)} | ${
            isBaseline ? '1' : ratioText(row.ratio.median)
          } | ${isBaseline ? '' : `${ratioText(row.ratio.min)}–${ratioText(row.ratio.max)}`} | ${target} |`,
        );
      }
    }
  }
  return lines.join('\n');
}

export function sizesTable(sizes) {
  const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
  const lines = ['| Build | Minified | Bytes | gzip | brotli |', '|---|---|--:|--:|--:|'];
  for (const row of sizes) {
    lines.push(`| ${row.label} | ${row.minified ? 'yes' : 'no'} | ${kib(row.bytes)} | ${kib(row.gzip)} | ${kib(row.brotli)} |`);
  }
  return lines.join('\n');
}

export function checksTable(checks) {
  const lines = ['| # | Target | Measured (steadysocket, this run) | Holds |', '|---|---|---|---|'];
  const verdict = { yes: '✅ yes', no: '❌ no', noise: '≈ within noise: inside the A/A range' };
  for (const check of checks) lines.push(`| ${check.id} | ${check.target} | ${check.measured} | ${verdict[check.holds]} |`);
  return lines.join('\n');
}

const escapeXml = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Horizontal bars: for every charted metric, each client's median cost relative to raw (rates are
 * inverted so that every bar reads "lower is better"), min–max whiskers over rounds, the 1.0 line
 * and the target as a red tick.
 */
export function svgChart(measures, { title, subtitle }) {
  const rows = [];
  for (const measure of measures) {
    for (const metric of measure.metrics ?? []) {
      if (!metric.chart) continue;
      const bars = measure.clients
        .filter((client) => client !== measure.baseline && metric.perClient[client])
        .map((client) => {
          const { ratio } = metric.perClient[client];
          const cost = (value) => (metric.lowerIsBetter ? value : 1 / value);
          const ends = [cost(ratio.min), cost(ratio.max)].sort((a, b) => a - b);
          return { client, value: cost(ratio.median), low: ends[0], high: ends[1] };
        });
      const target = metric.targetRatio === undefined ? undefined : metric.lowerIsBetter ? metric.targetRatio : 1 / metric.targetRatio;
      rows.push({ label: `${measure.short}: ${metric.chartLabel ?? metric.label}`, bars, target });
    }
  }
  const colors = { steadysocket: '#2563eb', rws: '#9ca3af', partysocket: '#d1a054', raw2: '#d1d5db', native2: '#d1d5db', json2: '#d1d5db' };
  const cap = 2.5;
  const left = 300;
  const plotWidth = 520;
  const barHeight = 11;
  const gap = 14;
  const top = 70;
  const x = (value) => left + (Math.min(value, cap) / cap) * plotWidth;
  let y = top;
  const parts = [];
  for (const row of rows) {
    const height = row.bars.length * barHeight;
    parts.push(`<text x="${left - 8}" y="${y + height / 2 + 4}" text-anchor="end" class="label">${escapeXml(row.label)}</text>`);
    row.bars.forEach((bar, i) => {
      const by = y + i * barHeight;
      const width = Math.max(1, x(bar.value) - left);
      parts.push(`<rect x="${left}" y="${by + 1}" width="${width.toFixed(1)}" height="${barHeight - 2}" fill="${colors[bar.client] ?? '#888'}"><title>${escapeXml(
        `${plain(bar.client)}: ${bar.value.toFixed(3)}× (rounds ${bar.low.toFixed(3)}–${bar.high.toFixed(3)})`,
      )}</title></rect>`);
      if (Number.isFinite(bar.low) && Number.isFinite(bar.high)) {
        parts.push(`<line x1="${x(bar.low).toFixed(1)}" x2="${x(bar.high).toFixed(1)}" y1="${by + barHeight / 2}" y2="${by + barHeight / 2}" class="whisker"/>`);
      }
      const text = bar.value > cap ? `${bar.value.toFixed(2)}× →` : `${bar.value.toFixed(3)}`;
      parts.push(`<text x="${(x(Math.max(bar.value, bar.high || 0)) + 4).toFixed(1)}" y="${by + barHeight - 2}" class="value">${text}</text>`);
    });
    if (row.target !== undefined) {
      parts.push(`<line x1="${x(row.target).toFixed(1)}" x2="${x(row.target).toFixed(1)}" y1="${y - 2}" y2="${y + height + 2}" class="target"/>`);
    }
    y += height + gap;
  }
  const bottom = y;
  const ticks = [];
  for (let t = 0; t <= cap + 1e-9; t += 0.5) {
    ticks.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${top - 6}" y2="${bottom - gap + 4}" class="grid"/>`);
    ticks.push(`<text x="${x(t)}" y="${bottom - gap + 18}" text-anchor="middle" class="axis">${t.toFixed(1)}×</text>`);
  }
  const legendY = bottom - gap + 40;
  let legendX = 12;
  const legend = ['steadysocket', 'rws', 'partysocket', 'raw2']
    .map((client) => {
      const label = client === 'raw2' ? 'A/A control (raw vs raw)' : plain(client);
      const item = `<rect x="${legendX}" y="${legendY - 9}" width="12" height="10" fill="${colors[client]}"/><text x="${legendX + 16}" y="${legendY}" class="legend">${escapeXml(label)}</text>`;
      legendX += 16 + label.length * 6.5 + 24;
      return item;
    })
    .join('');
  const height = legendY + 24;
  const width = left + plotWidth + 90;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">
<style>
.label{font-size:11px;fill:#111}.value{font-size:9px;fill:#444}.axis{font-size:10px;fill:#555}.legend{font-size:11px;fill:#111}
.grid{stroke:#eee}.whisker{stroke:#111;stroke-width:1}.target{stroke:#dc2626;stroke-width:2}.one{stroke:#111;stroke-width:1.5;stroke-dasharray:4 3}
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="12" y="22" font-size="15" font-weight="600">${escapeXml(title)}</text>
<text x="12" y="40" font-size="11" fill="#555">${escapeXml(subtitle)}</text>
${ticks.join('\n')}
<line x1="${x(1)}" x2="${x(1)}" y1="${top - 10}" y2="${bottom - gap + 4}" class="one"/>
<text x="${x(1) + 4}" y="${top - 12}" class="axis">raw = 1.0</text>
${parts.join('\n')}
${legend}
<text x="${width - 8}" y="${legendY}" text-anchor="end" class="legend"><tspan fill="#dc2626">|</tspan> target</text>
</svg>
`;
}
