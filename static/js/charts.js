// Live loss and accuracy charts (uPlot, injected). Every point received is kept in a MetricTable;
// each frame draws a min/max decimation to about two points per pixel, so 100,000 points stay
// smooth. The chart element carries data-points = the number of points it shows.

import { $, setAttr, setText } from './dom.js';
import { metric, percent } from './format.js';
import { decimate, ema, gather } from './series.js';

const KINDS = {
  loss: { train: 'train_loss', val: 'val_loss', fmt: metric, title: 'Loss' },
  accuracy: { train: 'train_accuracy', val: 'val_accuracy', fmt: percent, title: 'Accuracy' },
};

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** Vertical lines where the learning rate changed, labelled with the new value. */
function lrMarks(getChanges) {
  return (u) => {
    const changes = getChanges();
    if (!changes.length) return;
    const { ctx } = u;
    const { top, height, left, width } = u.bbox;
    const dpr = window.devicePixelRatio || 1;
    ctx.save();
    ctx.strokeStyle = css('--lr-mark') || '#a855f7';
    ctx.fillStyle = ctx.strokeStyle;
    ctx.lineWidth = 1.5 * dpr;
    ctx.setLineDash([4 * dpr, 4 * dpr]);
    ctx.font = `600 ${11 * dpr}px Inter, system-ui, sans-serif`;
    for (const c of changes) {
      const x = Math.round(u.valToPos(c.step, 'x', true));
      if (x < left || x > left + width) continue;
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
      ctx.fillText(`lr ${metric(c.lr)}`, x + 4 * dpr, top + 12 * dpr);
    }
    ctx.restore();
  };
}

export class MetricChart {
  constructor(root, kind, { uPlot, table, options }) {
    this.root = root; // the [data-chart] element
    this.kind = KINDS[kind];
    this.name = kind;
    this.uPlot = uPlot;
    this.table = table;
    this.options = options; // () => {smoothing, log}
    this.body = $('.chart-body', root);
    this.latest = $('.chart-latest', root);
    this.note = $('.chart-note', root);
    this.plot = null;
    this.enabled = true;
    setAttr(root, 'data-points', 0);
    if (typeof ResizeObserver !== 'undefined') {
      this.resizer = new ResizeObserver(() => this.resize());
      this.resizer.observe(this.body);
    }
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

  build() {
    this.plot?.destroy();
    const { log } = this.options();
    const text = css('--muted') || '#667';
    const grid = css('--grid-line') || 'rgba(0,0,0,.08)';
    const train = css('--train') || '#2563eb';
    const val = css('--val') || '#f97316';
    // --chart-scale (CSS): presenter mode asks for larger type and thicker lines.
    const k = Number.parseFloat(getComputedStyle(this.root).getPropertyValue('--chart-scale')) || 1;
    const font = `${Math.round(12 * k)}px Inter, system-ui, sans-serif`;
    const fmt = this.kind.fmt;
    const axis = { stroke: text, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    this.plot = new this.uPlot({
      ...this.size(),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 8 } },
      scales: { x: { time: false },
        y: this.name === 'loss' && log ? { distr: 3 } : this.name === 'accuracy' ? { range: () => this.accuracyRange() } : {} },
      axes: [{ ...axis, values: (u, v) => v.map((x) => (x >= 1000 ? `${x / 1000}k` : x)) },
        { ...axis, size: Math.round(56 * k), values: (u, v) => v.map((x) => (this.name === 'accuracy' ? `${Math.round(x * 100)}%` : metric(x))) }],
      series: [
        { label: 'step', value: (u, v) => (v == null ? '–' : v.toLocaleString('en-US')) },
        { label: 'train (raw)', stroke: `${train}44`, width: k, points: { show: false }, value: (u, v) => fmt(v) },
        { label: 'train', stroke: train, width: 2.5 * k, points: { show: false }, value: (u, v) => fmt(v) },
        { label: 'val', stroke: val, width: 2.5 * k, spanGaps: true,
          points: { show: () => this.table.counts[this.kind.val] <= 40, size: 6 * k, fill: val },
          value: (u, v) => fmt(v) },
      ],
      hooks: { draw: [lrMarks(() => this.table.lrChanges), (u) => this.overlay?.(u)], setCursor: [(u) => this.hover(u)] },
    }, [[], [], [], []], this.body);
    this.drawnFor = -1;
    this.render(true);
  }

  /** Accuracy from a round tenth below the lowest value to 100%: stable while it climbs. */
  accuracyRange() {
    let lo = 1;
    for (const name of [this.kind.train, this.kind.val]) {
      const col = this.table.column(name);
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
    const count = t.counts[this.kind.train] + t.counts[this.kind.val];
    if (!force && this.drawnFor === t.length && this.drawnCount === count) return;
    this.drawnFor = t.length;
    this.drawnCount = count;
    setAttr(this.root, 'data-points', this.enabled ? pointsIn(t, this.kind) : 0);
    if (!this.plot) return;
    const { smoothing } = this.options();
    const xs = t.steps();
    const raw = t.column(this.kind.train);
    const smooth = ema(raw, smoothing);
    const val = t.column(this.kind.val);
    const keep = decimate(xs, [raw, val], Math.max(64, this.size().width));
    const [x, r, s, v] = gather(keep, [xs, raw, smooth, val]);
    this.plot.setSeries(1, { show: smoothing > 0 });
    this.plot.setData([x, r, s, v]);
    setAttr(this.root, 'data-drawn', keep.length);
    const lastTrain = lastIndex(smooth);
    this.latestText = this.describe(null, lastTrain < 0 ? null : smooth[lastTrain],
      t.lastIsGap(this.kind.val) ? GAP : t.last(this.kind.val), t.lastIsGap(this.kind.train));
    if (this.hoverIdx == null) setText(this.latest, this.latestText);
  }

  describe(step, train, val, trainGap = false) {
    const fmt = (v) => (v === GAP ? '—' : this.kind.fmt(v));
    const parts = [];
    if (step != null) parts.push(`step ${step.toLocaleString('en-US')}`);
    if (trainGap) parts.push('train —');
    else if (train != null) parts.push(`train ${fmt(train)}`);
    if (val != null) parts.push(`val ${fmt(val)}`);
    return parts.join('  ·  ');
  }

  /** Hover: the values under the cursor replace the latest ones in the caption. */
  hover(u) {
    const i = u.cursor.idx;
    this.hoverIdx = i;
    if (i == null) {
      setText(this.latest, this.latestText || '');
      return;
    }
    const [x, , smooth, val] = u.data;
    setText(this.latest, this.describe(x[i], smooth[i], val[i]));
  }
}

const GAP = Symbol('non-finite'); // the newest value was null: shown as "—", not left out

function lastIndex(arr) {
  for (let i = arr.length - 1; i >= 0; i -= 1) if (Number.isFinite(arr[i])) return i;
  return -1;
}

/** Rows of the table that hold a value for this chart. */
function pointsIn(table, kind) {
  const a = table.cols[kind.train].data;
  const b = table.cols[kind.val].data;
  let n = 0;
  for (let i = 0; i < table.length; i += 1) if (Number.isFinite(a[i]) || Number.isFinite(b[i])) n += 1;
  return n;
}
