// A chart whose x axis counts episodes (a metric with `x: "episode"` in its kind's catalog: a
// dqn's episode_return): one point per finished episode, its moving average over the catalog's
// `average` points, and a dashed line at the catalog's `goal` (a field of the run's
// environment: the return that counts as solved), labelled. The dock treats it like a
// MetricChart; rate changes and the timeline's marker, given in steps, are drawn at the
// episode being played then.

import { $, setAttr, setText } from './dom.js';
import { metric } from './format.js';
import { chartLook, rateMarks, showCaption, toneColour } from './charts.js';
import { decimate, gather } from './series.js';

/** The rows of a metric that has a value, on the episode axis: {x, y, steps} as plain arrays. */
export function episodeRows(table, name, axis = 'episode') {
  const ys = table.column(name);
  const xs = table.column(axis);
  const steps = table.steps();
  const out = { x: [], y: [], steps: [] };
  for (let i = 0; i < ys.length; i += 1) {
    if (!Number.isFinite(ys[i])) continue;
    out.x.push(Number.isFinite(xs[i]) ? xs[i] : out.x.length + 1);
    out.y.push(ys[i]);
    out.steps.push(steps[i]);
  }
  return out;
}

/** The mean of each value and the `window - 1` before it (fewer at the start). */
export function movingAverage(values, window) {
  const out = new Array(values.length);
  let sum = 0;
  for (let i = 0; i < values.length; i += 1) {
    sum += values[i];
    if (i >= window) sum -= values[i - window];
    out[i] = sum / Math.min(i + 1, window);
  }
  return out;
}

/** The episode axis position of a step: the last episode finished by then (0 before any). */
export function episodeAt(rows, step) {
  let lo = 0;
  let hi = rows.steps.length;
  while (lo < hi) { // the first row after `step`
    const mid = (lo + hi) >> 1;
    if (rows.steps[mid] <= step) lo = mid + 1;
    else hi = mid;
  }
  return lo ? rows.x[lo - 1] : 0;
}

/** The y range: the values', with a little room, and the goal's when it is near enough to
 * show without squeezing the values into a sliver (within one span of them); a goal further
 * away is named at the chart's edge instead. */
export function returnRange(lo, hi, goal) {
  let a = Number.isFinite(lo) ? lo : goal ?? 0;
  let b = Number.isFinite(hi) ? hi : goal ?? 1;
  const span = b - a || Math.abs(b) || 1;
  if (goal != null && goal >= a - span && goal <= b + span) {
    a = Math.min(a, goal);
    b = Math.max(b, goal);
  }
  const pad = (b - a) * 0.06 || Math.abs(b) * 0.1 || 1;
  return [a - pad, b + pad];
}

export class EpisodeChart {
  /** chart: {name, metrics: [{name, doc, average}]} of the kind's plan; goal: {value, label} or null. */
  constructor(root, chart, { uPlot, table, goal = null }) {
    this.root = root;
    this.look = chartLook(chart);
    this.name = chart.name;
    this.metrics = chart.metrics;
    this.uPlot = uPlot;
    this.table = table;
    this.goal = goal && Number.isFinite(goal.value) ? goal : null;
    this.body = $('.chart-body', root);
    this.latest = $('.chart-latest', root);
    this.note = $('.chart-note', root);
    this.plot = null;
    this.enabled = true;
    setAttr(root, 'data-chart', chart.name);
    setAttr(root, 'data-x', 'episode');
    setAttr(root, 'data-points', 0);
    setAttr(root, 'data-goal', this.goal ? this.goal.value : null);
    setText($('.chart-title', root), this.look.title);
    setAttr(root, 'title', [...this.look.series.map((s) => s.doc && `${s.legend}: ${s.doc}`),
      ...chart.metrics.filter((m) => m.average).map((m) => `mean: over the last ${m.average} episodes`),
      this.goal ? `${this.goal.label} ${metric(this.goal.value)}: the mean return that counts as solved` : null]
      .filter(Boolean).join('\n') || null);
    if (typeof ResizeObserver !== 'undefined') {
      this.resizer = new ResizeObserver(() => this.plot?.setSize(this.size()));
      this.resizer.observe(this.body);
    }
  }

  destroy() {
    this.plot?.destroy();
    this.plot = null;
    this.resizer?.disconnect();
  }

  /** No baseline is drawn over episodes (a baseline fits a dataset, not an environment). */
  setBaseline() {
    this.baseline = null;
  }

  setEnabled(enabled, note = '') {
    this.enabled = enabled;
    setText(this.note, note);
    this.note.hidden = !note;
  }

  size() {
    const r = this.body.getBoundingClientRect();
    return { width: Math.max(160, Math.floor(r.width)), height: Math.max(80, Math.floor(r.height)) };
  }

  build() {
    this.plot?.destroy();
    const style = getComputedStyle(document.documentElement);
    const css = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
    const k = Number.parseFloat(getComputedStyle(this.root).getPropertyValue('--chart-scale')) || 1;
    const font = `${Math.round(12 * k)}px Inter, system-ui, sans-serif`;
    const grid = css('--grid-line', 'rgba(0,0,0,.08)');
    const axis = { stroke: css('--muted', '#667'), font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const series = [{ label: 'episode' }];
    for (const s of this.look.series) {
      const colour = toneColour(s.tone);
      // Each episode a dot (a line through thousands of them is a zigzag); their mean a line.
      series.push({ label: s.label, stroke: `${colour}88`, width: 0, paths: () => null,
        points: { show: true, size: (this.rows?.x.length > 300 ? 2.5 : 4) * k, width: 0, fill: `${colour}77` } },
        { label: `${s.label} (mean)`, stroke: colour, width: 2.5 * k, points: { show: false } });
    }
    const goal = this.goal;
    this.plot = new this.uPlot({
      ...this.size(),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 8 } },
      scales: { x: { time: false }, y: { range: (u, lo, hi) => returnRange(lo, hi, goal?.value) } },
      axes: [{ ...axis }, { ...axis, size: Math.round(56 * k), values: (u, v) => v.map((x) => metric(x)) }],
      series,
      hooks: { draw: [(u) => this.drawGoal(u, css('--env-goal-line', '#15803d')), (u) => rateMarks(this.table)(this.onEpisodes(u)),
        (u) => this.overlay?.(this.onEpisodes(u))], setCursor: [(u) => this.hover(u)] },
    }, series.map(() => []), this.body);
    this.drawnFor = -1;
    this.render(true);
  }

  /** u as the step-based hooks see it: x positions given in steps land on the episode then. */
  onEpisodes(u) {
    const rows = this.rows || { x: [], steps: [] };
    return { ctx: u.ctx, bbox: u.bbox,
      valToPos: (v, scale, canvas) => u.valToPos(scale === 'x' ? episodeAt(rows, v) : v, scale, canvas) };
  }

  /** The goal: a dashed line across the chart, labelled at its right end; above or below
   * the range drawn, its label at that edge with an arrow. */
  drawGoal(u, colour) {
    if (!this.goal) return;
    const y = Math.round(u.valToPos(this.goal.value, 'y', true));
    const { top, height, left, width } = u.bbox;
    const { ctx } = u;
    const dpr = window.devicePixelRatio || 1;
    const text = `${this.goal.label} ${metric(this.goal.value)}`;
    ctx.save();
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    ctx.font = `700 ${11 * dpr}px Inter, system-ui, sans-serif`;
    ctx.textAlign = 'right';
    const right = left + width - 4 * dpr;
    if (y < top || y > top + height) {
      const up = y < top;
      ctx.textBaseline = up ? 'top' : 'bottom';
      halo(ctx, `${up ? '↑' : '↓'} ${text}`, right, up ? top + 2 * dpr : top + height - 2 * dpr, dpr);
      ctx.restore();
      return;
    }
    ctx.lineWidth = 1.5 * dpr;
    ctx.setLineDash([6 * dpr, 4 * dpr]);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + width, y);
    ctx.stroke();
    const below = y - top < 16 * dpr; // no room above the line
    ctx.setLineDash([]);
    halo(ctx, text, right, below ? y + 13 * dpr : y - 5 * dpr, dpr);
    ctx.restore();
  }

  /** Redraw from the table (skips when no point arrived since). */
  render(force = false) {
    const t = this.table;
    if (!force && this.drawnFor === t.length) return;
    this.drawnFor = t.length;
    const all = this.metrics.map((m) => episodeRows(t, m.name));
    this.rows = all[0];
    setAttr(this.root, 'data-points', this.enabled ? this.rows.x.length : 0);
    const means = all.map((r, i) => movingAverage(r.y, this.metrics[i].average || 1));
    const last = this.rows.x.length - 1;
    this.latestText = last < 0 ? [] : this.describe(null, all.map((r, i) => ({ value: r.y[r.y.length - 1], mean: means[i][means[i].length - 1] })));
    if (this.hoverIdx == null) this.caption(this.latestText);
    if (!this.plot) return;
    const xs = Float64Array.from(this.rows.x);
    const cols = all.flatMap((r, i) => [Float64Array.from(r.y), Float64Array.from(means[i])]);
    const keep = decimate(xs, cols, Math.max(64, this.size().width));
    this.plot.setData(gather(keep, [xs, ...cols]));
    setAttr(this.root, 'data-drawn', keep.length);
  }

  /** "episode 12 · 23 · mean 19.5": [{label, text, tone}] parts for the caption (the title
   * names the metric; the mean is over the catalog's `average` episodes, said in the tooltip). */
  describe(episode, values) {
    const parts = [];
    if (episode != null) parts.push({ text: `episode ${episode.toLocaleString('en-US')}` });
    const one = this.look.series.length === 1;
    this.look.series.forEach((s, i) => {
      const v = values[i];
      if (v?.value != null) parts.push({ label: one ? null : s.label, text: metric(v.value), tone: s.tone });
      if (this.metrics[i].average && v?.mean != null) parts.push({ label: 'mean', text: metric(v.mean), tone: s.tone });
    });
    return parts;
  }

  caption(parts) {
    showCaption(this, parts);
  }

  hover(u) {
    const i = u.cursor.idx;
    this.hoverIdx = i;
    if (i == null) {
      this.caption(this.latestText || []);
      return;
    }
    const [x, ...cols] = u.data;
    this.caption(this.describe(x[i], this.look.series.map((_, k) => ({ value: cols[2 * k][i], mean: cols[2 * k + 1][i] }))));
  }
}

/** Text with a halo in the panel's colour, readable over the lines under it. */
function halo(ctx, text, x, y, dpr) {
  const fill = ctx.fillStyle;
  ctx.lineWidth = 3 * dpr;
  ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue('--panel').trim() || '#ffffff';
  ctx.strokeText(text, x, y);
  ctx.fillStyle = fill;
  ctx.fillText(text, x, y);
}
