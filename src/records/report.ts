import type { BuildRecord, StepRecord } from './types.js';

/**
 * `tbuild builds report`: one self-contained HTML page (no script, no network) for a build
 * record: a summary, the build args, a waterfall of every step on one time axis (one row per step,
 * above it the parallel lanes the steps ran in), the critical path marked, and every step with its
 * timing, why it ran, its error and its output folded.
 */
export interface ReportInput {
  record: BuildRecord;
  /** Each step's output by step index (possibly cut, see `logLimit`). */
  logs: Map<number, { text: string; cut: boolean }>;
}

/** Output of a step shown in the page; the rest stays in `tbuild builds logs`. */
export const REPORT_LOG_LIMIT = 256 * 1024;

const WIDTH = 960;
const LABEL = 360;
const ROW = 22;
const LANE = 12;

export function renderReport({ record, logs }: ReportInput): string {
  const steps = record.steps.filter((s) => s.startedAt);
  const t0 = Date.parse(record.startedAt);
  const end = Math.max(t0 + (record.durationMs ?? 0), ...steps.map((s) => Date.parse(s.completedAt ?? s.startedAt!)));
  const span = Math.max(1, end - t0);
  const critical = criticalPath(steps);
  const cached = record.steps.filter((s) => s.cached).length;
  const title = `tbuild build ${record.id.slice(0, 12)}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>${STYLE}</style></head>
<body>
<h1>Build <code>${esc(record.id)}</code> <span class="status ${record.status}">${record.status}</span></h1>
<dl class="summary">
${row('Started', record.startedAt)}${row('Duration', record.durationMs !== undefined ? seconds(record.durationMs) : 'running')}${row('Dockerfile', `${record.dockerfile.name}${record.dockerfile.digest ? ` (${record.dockerfile.digest})` : ''}`)}${record.target ? row('Target', record.target) : ''}${record.tags.length ? row('Tags', record.tags.join(', ')) : ''}${record.result ? row('Image', record.result.imageId) : ''}${row('Steps', `${record.steps.length}, ${cached} cached`)}${record.error ? row('Error', record.error) : ''}
</dl>
${argsTable(record.args)}
<h2>Timeline</h2>
<p class="legend"><span class="key ran"></span> ran <span class="key cached"></span> cached <span class="key failed"></span> failed <span class="key critical"></span> critical path (${critical.size} step${critical.size === 1 ? '' : 's'})</p>
${waterfall(steps, t0, span, critical)}
<h2>Steps</h2>
${record.steps.map((s) => stepSection(s, critical.has(s.index), logs.get(s.index))).join('\n')}
</body></html>
`;
}

/**
 * The chain of steps that decided the build's length: from the last to finish, back through the
 * input that finished last. A step without recorded inputs (loading the context, exporting)
 * waited for whatever finished last before it started.
 */
function criticalPath(steps: StepRecord[]): Set<number> {
  const byVertex = new Map(steps.map((s) => [s.vertex, s]));
  const done = (s: StepRecord) => Date.parse(s.completedAt ?? s.startedAt!);
  const latest = (list: StepRecord[]) => list.reduce<StepRecord | undefined>((a, s) => (!a || done(s) > done(a) ? s : a), undefined);
  const out = new Set<number>();
  let cur = latest(steps);
  while (cur && !out.has(cur.index)) {
    out.add(cur.index);
    const step: StepRecord = cur;
    const inputs = (step.inputs ?? []).map((v) => byVertex.get(v)).filter((s): s is StepRecord => s !== undefined);
    cur = inputs.length ? latest(inputs) : latest(steps.filter((s) => s !== step && done(s) <= Date.parse(step.startedAt!)));
  }
  return out;
}

/** Steps placed in the first lane free when they start: how many ran side by side. */
function lanes(steps: StepRecord[]): Map<number, number> {
  const ends: number[] = [];
  const out = new Map<number, number>();
  for (const s of [...steps].sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!))) {
    const start = Date.parse(s.startedAt!);
    let lane = ends.findIndex((e) => e <= start);
    if (lane < 0) lane = ends.push(0) - 1;
    ends[lane] = Date.parse(s.completedAt ?? s.startedAt!);
    out.set(s.index, lane);
  }
  return out;
}

function waterfall(steps: StepRecord[], t0: number, span: number, critical: Set<number>): string {
  const plot = WIDTH - LABEL;
  const x = (t: number) => LABEL + ((t - t0) / span) * plot;
  const lane = lanes(steps);
  const laneCount = Math.max(0, ...lane.values()) + 1;
  const top = 24 + laneCount * LANE + 10;
  const height = top + steps.length * ROW + 10;
  const kind = (s: StepRecord) => (s.error ? 'failed' : s.cached ? 'cached' : 'ran');
  const bar = (s: StepRecord, y: number, h: number) => {
    const x0 = x(Date.parse(s.startedAt!));
    const w = Math.max(2, x(Date.parse(s.completedAt ?? s.startedAt!)) - x0);
    const cls = `bar ${kind(s)}${critical.has(s.index) ? ' critical' : ''}`;
    return `<rect class="${cls}" data-step="${s.index}" x="${x0.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${h}"><title>#${s.index} ${esc(s.name)}: ${seconds(s.durationMs ?? 0)}</title></rect>`;
  };
  const ticks: string[] = [];
  const step = niceStep(span);
  for (let t = 0; t <= span; t += step) {
    ticks.push(`<line class="tick" x1="${x(t0 + t).toFixed(1)}" y1="16" x2="${x(t0 + t).toFixed(1)}" y2="${height}"/><text class="axis" x="${x(t0 + t).toFixed(1)}" y="12">${seconds(t)}</text>`);
  }
  const ordered = [...steps].sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!) || a.index - b.index);
  return `<svg id="waterfall" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">
${ticks.join('')}
<text class="label" x="4" y="${24 + LANE}">lanes (${laneCount} at most side by side)</text>
<g class="lanes">${steps.map((s) => bar(s, 24 + lane.get(s.index)! * LANE, LANE - 2)).join('')}</g>
<g class="rows">${ordered
    .map((s, i) => {
      const y = top + i * ROW;
      return `<text class="label${critical.has(s.index) ? ' critical' : ''}" x="4" y="${y + 15}">#${s.index} ${esc(clip(s.name, 52))}</text>${bar(s, y + 3, ROW - 6)}`;
    })
    .join('\n')}</g>
</svg>`;
}

function stepSection(s: StepRecord, critical: boolean, log: { text: string; cut: boolean } | undefined): string {
  const state = !s.startedAt ? 'not started' : s.error ? 'failed' : s.cached ? 'cached' : 'ran';
  const facts = [
    row('State', state + (critical ? ' (on the critical path)' : '')),
    s.durationMs !== undefined ? row('Duration', seconds(s.durationMs)) : '',
    s.reason ? row('Why it ran', s.reason) : '',
    s.error ? row('Error', s.error) : '',
  ].join('');
  const output = log && log.text
    ? `<details><summary>output (${s.logBytes} bytes${log.cut ? `, the first ${REPORT_LOG_LIMIT} shown: tbuild builds logs ID --step ${s.index} has it all` : ''})</summary><pre>${esc(log.text)}</pre></details>`
    : '<p class="quiet">no output</p>';
  return `<section class="step ${state.replace(' ', '-')}" id="step-${s.index}"><h3>#${s.index} ${esc(s.name)}</h3><dl>${facts}</dl>${output}</section>`;
}

function argsTable(args: Record<string, string>): string {
  const names = Object.keys(args).sort();
  if (!names.length) return '';
  return `<h2>Build args</h2><table class="args"><tbody>${names.map((n) => `<tr><th>${esc(n)}</th><td><code>${esc(args[n]!)}</code></td></tr>`).join('')}</tbody></table>`;
}

function row(term: string, value: string): string {
  return `<dt>${esc(term)}</dt><dd>${esc(value)}</dd>`;
}

function niceStep(spanMs: number): number {
  for (const s of [100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000]) if (spanMs / s <= 10) return s;
  return 1_800_000;
}

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
code,pre{font-family:ui-monospace,monospace;font-size:12px}
.status{font-size:14px;padding:2px 8px;border-radius:4px;color:#fff;vertical-align:middle}
.status.completed{background:#2a7d3b}.status.failed{background:#b3261e}.status.running{background:#8a6d00}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dt{font-weight:600}dd{margin:0;word-break:break-all}
table.args th{text-align:left;padding-right:12px}
svg text{font:11px ui-monospace,monospace;fill:#333}svg .axis{fill:#777}svg .tick{stroke:#eee}
svg text.critical{font-weight:700}
.bar.ran,.key.ran{fill:#3b7dd8;background:#3b7dd8}.bar.cached,.key.cached{fill:#9bbf8f;background:#9bbf8f}
.bar.failed,.key.failed{fill:#d84a3b;background:#d84a3b}.bar.critical{stroke:#b3261e;stroke-width:2}
.key{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}.key.critical{border:2px solid #b3261e;width:8px;height:8px}
section.step{border-top:1px solid #ddd;padding:6px 0}section.step h3{font-size:14px;margin:4px 0}
section.failed h3{color:#b3261e}pre{background:#f6f6f6;padding:8px;overflow:auto;max-height:480px}.quiet{color:#888}
`;
