// Live metric charts (uPlot, injected): one per chart of the run's kind (supervised: loss and
// accuracy; gan: loss, discriminator, MMD), each drawing the metrics the kind's catalog puts on
// it, plus one per phase whose points name a layer (a deep belief net's pre-training: one line
// per layer). Every chart shades the phases before fine-tuning, and one may carry a baseline's
// dashed level (the random forest). Every point received is kept in a MetricTable; each frame
// draws a min/max decimation to about two points per pixel, so 100,000 points stay smooth. The
// chart element carries data-chart (its name) and data-points = the number of points it shows.

import { baselineLine, phaseMarks } from './chart-marks.js';
import { $, h, setAttr, setText } from './dom.js';
import { metric, percent } from './format.js';
import { metricLabel } from './insight/kinds.js';
import { decimate, ema, gather } from './series.js';

// How each chart a kind names is drawn (a chart not listed is drawn plainly, titled by name).
const LOOKS = {
  loss: { title: 'Loss', log: true },
  accuracy: { title: 'Accuracy', fmt: percent, range: 'climb', axis: (x) => `${Math.round(x * 100)}%` },
  discriminator: { title: 'D(x)', fmt: (v) => (Number.isFinite(v) ? `${Math.round(v * 100)}%` : '–'), range: [0, 1], axis: (x) => `${Math.round(x * 100)}%`, reference: 0.5,
    about: 'The discriminator\'s output: how sure it is that real and generated samples are real. At 50% each it can no longer tell them apart.',
    empty: 'D(real) and D(fake) show up here: at 50% each the discriminator can no longer tell them apart.' },
  mmd: { title: 'MMD', empty: 'MMD between generated and real samples shows up at each validation: lower is closer.' },
  return: { title: 'Return', empty: 'A point per finished episode, with their mean and the return that counts as solved.' },
  td_loss: { title: 'TD loss', log: true, empty: 'Once learning starts.' },
  q: { title: 'Mean Q', empty: 'Once learning starts.' },
  // A rate its schedule moves is drawn as it is: smoothed, the caption would lag a change.
  epsilon: { title: 'Exploration ε', range: [0, 1], raw: true, empty: 'While training.' },
  pretrain: { title: 'Pre-training',
    about: 'Each layer\'s reconstruction error while it pre-trains as an RBM: how far a one-step reconstruction of its input is from the input (mean squared error).' },
};
// The colour of a metric's line: a CSS variable of the theme. Metrics a gan's pictures also
// show take the pictures' colours (real green, generated purple); others go by their place.
const TONES = { train_loss: '--train', train_accuracy: '--train', val_loss: '--val', val_accuracy: '--val',
  d_loss: '--train', g_loss: '--fake', d_real: '--real', d_fake: '--fake', mmd: '--val',
  episode_return: '--train', td_loss: '--val', q_mean: '--train', epsilon: '--fake' };
const PLACES = ['--train', '--val', '--fake', '--real'];
const LAYERS = ['--layer-1', '--layer-2', '--layer-3', '--layer-4']; // one line per layer
const FALLBACK = { '--train': '#2563eb', '--val': '#f97316', '--real': '#16a34a', '--fake': '#a21caf',
  '--layer-1': '#0891b2', '--layer-2': '#c026d3', '--layer-3': '#ca8a04', '--layer-4': '#4f46e5' };

/** The look of one chart of a plan ({name, metrics}): title, formats, range and its series. */
export function chartLook(chart) {
  const look = LOOKS[chart.name] || {};
  return {
    name: chart.name,
    title: look.title || metricLabel(chart.name, { long: true }).replace(/^./, (c) => c.toUpperCase()),
    fmt: look.fmt || metric,
    axis: look.axis || metric,
    range: look.range || null,
    log: Boolean(look.log),
    reference: look.reference ?? null,
    about: look.about || '',
    empty: look.empty || null,
    raw: Boolean(look.raw),
    series: chart.metrics.map((m, i) => ({ name: m.name, doc: m.doc || '', label: m.label || metricLabel(m.name),
      legend: m.legend || metricLabel(m.name, { long: true }),
      layer: m.layer || null, tone: TONES[m.name] || (m.layer ? LAYERS : PLACES)[i % PLACES.length] })),
  };
}

/** A series' colour now (the theme may have changed). */
export function toneColour(tone) {
  return css(tone) || FALLBACK[tone] || '#2563eb';
}

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** Vertical lines where a learning rate changed, labelled with the new value (a gan has two). */
export function rateMarks(table) {
  return (u) => {
    const names = Object.keys(table.changes);
    if (!names.some((n) => table.changes[n].length)) return;
    const { ctx } = u;
    const { top, height, left, width } = u.bbox;
    const dpr = window.devicePixelRatio || 1;
    ctx.save();
    ctx.strokeStyle = css('--lr-mark') || '#a855f7';
    ctx.fillStyle = ctx.strokeStyle;
    ctx.lineWidth = 1.5 * dpr;
    ctx.font = `600 ${11 * dpr}px Inter, system-ui, sans-serif`;
    names.forEach((name, k) => {
      ctx.setLineDash(k ? [1.5 * dpr, 3 * dpr] : [4 * dpr, 4 * dpr]); // a second rate dotted
      for (const c of table.changes[name]) {
        const x = Math.round(u.valToPos(c.step, 'x', true));
        if (x < left || x > left + width) continue;
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, top + height);
        ctx.stroke();
        ctx.fillText(`${metricLabel(name)} ${metric(c.value)}`, x + 4 * dpr, top + (12 + 13 * k) * dpr);
      }
    });
    ctx.restore();
  };
}

/** A dashed level line (the discriminator's 50%: neither side wins). */
function levelLine(value) {
  return (u) => {
    if (value == null) return;
    const y = Math.round(u.valToPos(value, 'y', true));
    const { top, height, left, width } = u.bbox;
    if (y < top || y > top + height) return;
    const { ctx } = u;
    const dpr = window.devicePixelRatio || 1;
    ctx.save();
    ctx.strokeStyle = css('--faint') || '#94a3b8';
    ctx.lineWidth = dpr;
    ctx.setLineDash([3 * dpr, 4 * dpr]);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + width, y);
    ctx.stroke();
    ctx.restore();
  };
}

export class MetricChart {
  /** root: the [data-chart] figure; chart: {name, metrics} of the kind's chart plan. */
  constructor(root, chart, { uPlot, table, options }) {
    this.root = root;
    this.look = chartLook(chart);
    this.name = chart.name;
    this.uPlot = uPlot;
    this.table = table;
    this.options = options; // () => {smoothing, log}
    this.body = $('.chart-body', root);
    this.latest = $('.chart-latest', root);
    this.note = $('.chart-note', root);
    this.plot = null;
    this.enabled = true;
    this.baseline = null; // {value, label}: a dashed level (the random forest's figure)
    setAttr(root, 'data-chart', chart.name);
    setAttr(root, 'data-points', 0);
    setText($('.chart-title', root), this.look.title);
    setAttr(root, 'title', [this.look.about, ...this.look.series.map((s) => s.doc && `${s.legend}: ${s.doc}`)]
      .filter(Boolean).join('\n') || null);
    if (typeof ResizeObserver !== 'undefined') {
      this.resizer = new ResizeObserver(() => this.resize());
      this.resizer.observe(this.body);
    }
  }

  /** Stop drawing (the kind's charts changed): the plot and its observer go. */
  destroy() {
    this.plot?.destroy();
    this.plot = null;
    this.resizer?.disconnect();
  }

  /** Regression has no accuracy: the chart says so instead of drawing. */
  setEnabled(enabled, note = '') {
    this.enabled = enabled;
    this.root.classList.toggle('is-disabled', !enabled);
    setText(this.note, note);
    this.note.hidden = !note;
  }

  size() {
    const r = this.body.getBoundingClientRect();
    return { width: Math.max(160, Math.floor(r.width)), height: Math.max(80, Math.floor(r.height)) };
  }

  /** Draw a baseline's level ({value, label}) on this chart, or none (null). */
  setBaseline(baseline) {
    const b = baseline && Number.isFinite(baseline.value) ? baseline : null;
    if (JSON.stringify(b) === JSON.stringify(this.baseline)) return;
    this.baseline = b;
    setAttr(this.root, 'data-baseline', b ? b.value : null);
    this.root.classList.toggle('has-baseline', Boolean(b));
    if (this.plot) this.build(); // its level widens the scale
  }

  yScale() {
    const { log } = this.options();
    const b = this.baseline?.value;
    // The range the data asks for, widened to hold the baseline's level.
    const around = (range) => (u, lo, hi) => (lo == null ? [null, null] : range(Math.min(lo, b), Math.max(hi, b)));
    if (this.look.log && log) {
      return b == null ? { distr: 3 } : { distr: 3, range: around((lo, hi) => this.uPlot.rangeLog(lo, hi, 10, false)) };
    }
    if (this.look.range === 'climb') return { range: () => this.climbRange() };
    if (Array.isArray(this.look.range)) return { range: () => this.look.range };
    return b == null ? {} : { range: around((lo, hi) => this.uPlot.rangeNum(lo, hi, 0.1, true)) };
  }

  build() {
    this.plot?.destroy();
    const text = css('--muted') || '#667';
    const grid = css('--grid-line') || 'rgba(0,0,0,.08)';
    // --chart-scale (CSS): presenter mode asks for larger type and thicker lines.
    const k = Number.parseFloat(getComputedStyle(this.root).getPropertyValue('--chart-scale')) || 1;
    const font = `${Math.round(12 * k)}px Inter, system-ui, sans-serif`;
    const { fmt, axis: tick } = this.look;
    const axis = { stroke: text, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    // Two uPlot series per metric: its raw values (faint, under smoothing) and its line.
    const series = [{ label: 'step', value: (u, v) => (v == null ? '–' : v.toLocaleString('en-US')) }];
    this.sparseKey = this.sparseNow();
    for (const s of this.look.series) {
      const colour = toneColour(s.tone);
      // A sparse line joins its values; a dense one breaks where a value was not finite.
      series.push({ label: `${s.label} (raw)`, stroke: `${colour}44`, width: k, points: { show: false }, value: (u, v) => fmt(v) },
        { label: s.label, stroke: colour, width: 2.5 * k, spanGaps: this.table.sparse(s.name),
          points: { show: () => this.table.sparse(s.name) && this.table.count(s.name) <= 40, size: 6 * k, fill: colour },
          value: (u, v) => fmt(v) });
    }
    this.plot = new this.uPlot({
      ...this.size(),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 8 } },
      scales: { x: { time: false }, y: this.yScale() },
      axes: [{ ...axis, values: (u, v) => v.map((x) => (x >= 1000 ? `${x / 1000}k` : x)) },
        { ...axis, size: Math.round(56 * k), values: (u, v) => v.map((x) => tick(x)) }],
      series,
      hooks: { draw: [phaseMarks(this.table), rateMarks(this.table), levelLine(this.look.reference), baselineLine(this),
        (u) => this.overlay?.(u)],
        setCursor: [(u) => this.hover(u)] },
    }, series.map(() => []), this.body);
    this.drawnFor = -1;
    this.captionText = null; // its colours may be the theme's new ones
    this.render(true);
  }

  /** Which of the chart's metrics are sparse now, as a key (the plot is rebuilt when it changes). */
  sparseNow() {
    return this.look.series.map((s) => (this.table.sparse(s.name) ? 1 : 0)).join('');
  }

  /** Accuracy from a round tenth below the lowest value to 100%: stable while it climbs. */
  climbRange() {
    let lo = Math.min(1, this.baseline?.value ?? 1);
    for (const s of this.look.series) {
      const col = this.table.column(s.name);
      for (let i = 0; i < col.length; i += 1) if (col[i] < lo) lo = col[i];
    }
    return [Math.max(0, Math.floor(lo * 10 - 0.001) / 10), 1];
  }

  resize() {
    if (this.plot) this.plot.setSize(this.size());
  }

  /** Redraw from the table (cheap to call every frame; skips when nothing changed). */
  render(force = false) {
    const t = this.table;
    const names = this.look.series.map((s) => s.name);
    const count = names.reduce((n, name) => n + t.count(name), 0);
    if (!force && this.drawnFor === t.length && this.drawnCount === count) return;
    this.drawnFor = t.length;
    this.drawnCount = count;
    setAttr(this.root, 'data-points', this.enabled ? pointsIn(t, names) : 0);
    if (!this.plot) return;
    if (this.sparseNow() !== this.sparseKey) {
      this.build(); // a metric turned out to be validation-only: joined and dotted from now on
      return;
    }
    const { smoothing } = this.options();
    const xs = t.steps();
    const raws = names.map((name) => t.column(name));
    // A dense metric is smoothed over its faint raw line; a sparse one (validation) is drawn as it is.
    const sparse = names.map((name) => t.sparse(name));
    const lines = raws.map((raw, i) => (sparse[i] || this.look.raw ? raw : ema(raw, smoothing)));
    const keep = decimate(xs, raws, Math.max(64, this.size().width));
    const none = new Float64Array(xs.length).fill(NaN);
    const [x, ...cols] = gather(keep, [xs, ...raws.flatMap((raw, i) => [sparse[i] ? none : raw, lines[i]])]);
    names.forEach((_, i) => this.plot.setSeries(1 + 2 * i, { show: smoothing > 0 && !sparse[i] && !this.look.raw }));
    this.plot.setData([x, ...cols]);
    setAttr(this.root, 'data-drawn', keep.length);
    this.latestText = this.describe(null, names.map((name, i) => {
      const last = lastIndex(lines[i]);
      return { gap: t.lastIsGap(name), value: sparse[i] ? t.last(name) : last < 0 ? null : lines[i][last] };
    }));
    if (this.hoverIdx == null) this.caption(this.latestText);
  }

  /**
   * "step 120  ·  train 0.31  ·  val 0.35": values [{value, gap}] in the chart's series order, as
   * [{label, text, tone}] parts; a chart of one metric names it in its title only.
   */
  describe(step, values) {
    const parts = [];
    if (step != null) parts.push({ text: `step ${step.toLocaleString('en-US')}` });
    const one = this.look.series.length === 1 && !this.look.series[0].layer; // a layer's line is named by it
    this.look.series.forEach((s, i) => {
      const v = values[i];
      const label = one ? null : s.label;
      if (v?.gap) parts.push({ label, text: '—', tone: s.tone });
      else if (v?.value != null) parts.push({ label, text: this.look.fmt(v.value), tone: s.tone });
    });
    return parts;
  }

  /** Show parts in the caption, each label in its line's colour (the chart's legend). */
  caption(parts) {
    showCaption(this, parts);
  }

  /** Hover: the values under the cursor replace the latest ones in the caption. */
  hover(u) {
    const i = u.cursor.idx;
    this.hoverIdx = i;
    if (i == null) {
      this.caption(this.latestText || []);
      return;
    }
    const [x, ...cols] = u.data;
    this.caption(this.describe(x[i], this.look.series.map((_, k) => ({ value: cols[2 * k + 1][i] }))));
  }
}

/** A chart's caption (its `latest` element) as parts {label, text, tone}, each label in its
 * line's colour; redrawn only when the text changes (kept on the chart as captionText). */
export function showCaption(chart, parts) {
  const text = parts.map((p) => (p.label ? `${p.label} ${p.text}` : p.text)).join('  ·  ');
  if (text === chart.captionText) return;
  chart.captionText = text;
  chart.latest.replaceChildren(...parts.flatMap((p, i) => [i ? '  ·  ' : null,
    p.label ? h('b', { class: 'chart-key', style: { color: toneColour(p.tone) } }, p.label) : null, p.label ? ' ' : null, p.text])
    .filter((x) => x != null));
}

function lastIndex(arr) {
  for (let i = arr.length - 1; i >= 0; i -= 1) if (Number.isFinite(arr[i])) return i;
  return -1;
}

/** Rows of the table that hold a value for this chart. */
function pointsIn(table, names) {
  const cols = names.map((name) => table.column(name));
  let n = 0;
  for (let i = 0; i < table.length; i += 1) if (cols.some((c) => Number.isFinite(c[i]))) n += 1;
  return n;
}
