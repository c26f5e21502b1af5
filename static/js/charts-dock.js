// The chart dock: one MetricTable feeding one chart per chart of the run's kind (its catalog
// says which metrics go on which chart: supervised loss and accuracy; a gan's loss,
// discriminator and MMD) and one per phase whose points name a layer (a deep belief net's
// pre-training, first), the smoothing slider, the log-scale toggle, the legend and a baseline's
// level (setBaseline). Redraws at most once per animation frame.

import { $, h } from './dom.js';
import { MetricChart, chartLook, toneColour } from './charts.js';
import { EpisodeChart } from './episode-chart.js';
import { BUILTIN, chartPlan, markedMetrics, phasePlan } from './insight/kinds.js';
import { MetricTable } from './series.js';

const PREFS_KEY = 'layerlab.charts.v1';

export class ChartsDock {
  constructor(root, { uPlot, storage = window.localStorage }) {
    this.root = root;
    this.storage = storage;
    this.uPlot = uPlot;
    this.table = new MetricTable();
    const prefs = this.loadPrefs();
    this.smoothing = $('input[name=smoothing]', root);
    this.log = $('input[name=log_scale]', root);
    this.smoothingValue = $('.smoothing-value', root);
    this.legend = $('.dock-legend', root);
    this.grid = $('.charts', root);
    this.smoothing.value = String(prefs.smoothing ?? 0.6);
    this.log.checked = Boolean(prefs.log);
    this.options = () => ({ smoothing: Number(this.smoothing.value), log: this.log.checked });
    // The page's own figures (loss, accuracy) are kept and renamed; a kind with more charts adds some.
    this.figures = [...this.grid.querySelectorAll('figure.chart')];
    this.own = this.figures.length;
    this.empties = new Map(this.figures.map((f) => [f.dataset.chart, $('.chart-empty', f).cloneNode(true)]));
    this.charts = [];
    this.available = Boolean(uPlot);
    this.built = false;
    this.smoothing.addEventListener('input', () => {
      this.showSmoothing();
      this.savePrefs();
      this.redraw(true);
    });
    this.log.addEventListener('change', () => {
      this.savePrefs();
      for (const c of this.charts) if (c.look.log) c.build();
    });
    this.showSmoothing();
    this.frame = null;
    this.task = 'classification';
    this.baseline = null; // {metric, value, label}: drawn on the chart that draws `metric`
    this.setKind(BUILTIN);
  }

  loadPrefs() {
    try { return JSON.parse(this.storage.getItem(PREFS_KEY) || '{}'); } catch { return {}; }
  }

  savePrefs() {
    try {
      this.storage.setItem(PREFS_KEY, JSON.stringify({ smoothing: Number(this.smoothing.value),
        log: this.log.checked }));
    } catch { /* best effort */ }
  }

  showSmoothing() {
    this.smoothingValue.textContent = Number(this.smoothing.value).toFixed(2);
  }

  /**
   * Draw the charts of a kind (its /api/training entry): one figure per chart it names, in its
   * order, each with its metrics. The table keeps every metric, so nothing is lost in a change.
   * A chart over episodes (a dqn's return) draws its goal from `environment`, the run's
   * GET /api/environments entry (the return that counts as solved).
   */
  setKind(entry, { environment = this.environment } = {}) {
    this.entry = entry;
    this.environment = environment || null;
    const own = chartPlan(entry);
    const plan = [...phasePlan(this.table.layered, own), ...own];
    this.layeredKey = this.layeredNow();
    const key = JSON.stringify([plan, plan.map((c) => this.goalOf(c))]);
    if (key === this.planKey) return;
    this.planKey = key;
    this.table.setMarked(markedMetrics(entry));
    for (const c of this.charts) c.destroy();
    while (this.figures.length < plan.length) this.figures.push(this.figure());
    for (const fig of this.figures.splice(Math.max(plan.length, this.own))) fig.remove();
    this.figures.forEach((fig, i) => {
      fig.hidden = i >= plan.length;
      if (fig.hidden) fig.dataset.points = '0';
    });
    this.charts = plan.map((chart, i) => {
      const fig = this.figures[i];
      this.setEmpty(fig, chart);
      if (chart.x === 'episode') return new EpisodeChart(fig, chart, { uPlot: this.uPlot, table: this.table, goal: this.goalOf(chart) });
      return new MetricChart(fig, chart, { uPlot: this.uPlot, table: this.table, options: this.options });
    });
    this.grid.classList.toggle('charts-3', plan.length === 3);
    this.grid.classList.toggle('charts-1', plan.length === 1);
    this.setBaseline(this.baseline, { force: true });
    this.drawLegend();
    this.setTask(this.task);
    if (this.built) this.build();
  }

  /** A chart's goal line: {value, label} from the environment's field its metric names
   * (`solved_return`: "solved 475"), or null. */
  goalOf(chart) {
    const field = chart.metrics.find((m) => m.goal)?.goal;
    const value = field ? this.environment?.[field] : null;
    return typeof value === 'number' ? { value, label: field.split('_')[0] } : null;
  }

  /** Which layers sent which metrics so far: the charts are planned again when it changes. */
  layeredNow() {
    return JSON.stringify([...this.table.layered]);
  }

  /** Plan the charts again when the points brought a new layer (a phase's chart or line). */
  replan() {
    if (this.layeredNow() !== this.layeredKey) this.setKind(this.entry);
  }

  /**
   * A baseline's figure ({metric, value, label}, e.g. the random forest's val_accuracy) as a
   * dashed level on the chart that draws that metric, named in the legend; null removes it.
   * Before any point the chart's empty text says it.
   */
  setBaseline(baseline, { force = false } = {}) {
    const key = JSON.stringify(baseline || null);
    if (!force && key === this.baselineKey) return;
    this.baselineKey = key;
    this.baseline = baseline || null;
    for (const c of this.charts) {
      const mine = Boolean(baseline) && c.look.series.some((s) => s.name === baseline.metric);
      c.setBaseline(mine ? { value: baseline.value, label: baseline.label } : null);
      const empty = $('.chart-empty', c.root);
      empty.querySelector('.chart-empty-baseline')?.remove();
      if (mine) {
        empty.append(h('span', { class: 'chart-empty-baseline' },
          `${baseline.label}: ${c.look.fmt(baseline.value)}. Train to see whether the network beats it.`));
      }
    }
    this.drawLegend();
  }
  /** A figure like the page's own, for a chart the page has none for. */
  figure() {
    const fig = h('figure', { class: 'chart', dataset: { points: '0' } },
      h('figcaption', {}, h('span', { class: 'chart-title' }), h('span', { class: 'chart-latest' })),
      h('div', { class: 'chart-body' }), h('p', { class: 'chart-note', hidden: true }),
      h('p', { class: 'chart-empty' }, h('span', {})));
    this.grid.append(fig);
    return fig;
  }

  /** The words shown before the first point: the page's own for its charts, else the look's. */
  setEmpty(fig, chart) {
    const look = chartLook(chart);
    const own = this.empties.get(chart.name);
    const empty = $('.chart-empty', fig);
    if (own && !look.empty) empty.replaceChildren(...own.cloneNode(true).childNodes);
    else empty.replaceChildren(h('span', {}, look.empty || `${look.series.map((s) => s.legend).join(' and ')} show up here while training.`));
  }

  /** The dock bar's legend: the lines several charts share (train, validation), each once, and
   * the rate marks; a line of one chart only is named in its caption, in its colour. */
  drawLegend() {
    if (!this.legend) return;
    const seen = new Map();
    for (const c of this.charts) {
      for (const s of c.look.series) {
        const entry = seen.get(s.legend) || { tone: s.tone, charts: new Set() };
        entry.charts.add(c.name);
        seen.set(s.legend, entry);
      }
    }
    const shared = [...seen].filter(([, e]) => e.charts.size > 1).map(([text, e]) => [text, e.tone]);
    const rates = Object.keys(this.table.changes);
    const level = this.charts.some((c) => c.baseline) ? [h('i', { class: 'sw sw-baseline' }), this.baseline.label, ' '] : [];
    this.legend.replaceChildren(...shared.map(([text, tone]) => [
      h('i', { class: 'sw', style: { background: toneColour(tone) } }), text, ' ']).flat(),
    ...level, h('i', { class: 'sw sw-lr' }), rates.length > 1 ? 'rate change' : 'lr change');
  }

  /** Draw fn(uplot) over every chart (the timeline's step marker); null removes it. */
  setOverlay(fn) {
    this.overlay = fn;
    for (const c of this.charts) {
      c.overlay = fn;
      c.plot?.redraw(false);
    }
  }

  /** Create the plots (after the dock has its size, and again on a theme change). */
  build() {
    if (!this.available) return;
    this.built = true;
    this.drawLegend(); // the theme's colours
    for (const c of this.charts) {
      c.overlay = this.overlay;
      c.build();
    }
  }

  /** Classification shows accuracy; regression says why there is none (a kind without an
   * accuracy chart ignores this). */
  setTask(task) {
    this.task = task;
    const acc = this.charts.find((c) => c.name === 'accuracy');
    if (acc) {
      if (task === 'regression') acc.setEnabled(false, 'Regression: no accuracy to show. The loss chart tracks the error.');
      else acc.setEnabled(true);
    }
    this.redraw(true);
  }

  /** Replace everything with a run's history (watch, reload, new run). */
  reset(history = []) {
    this.table.clear();
    this.table.push(history);
    this.replan();
    this.root.classList.toggle('has-data', this.table.length > 0);
    this.redraw(true);
  }

  push(points) {
    if (!points.length) return;
    this.table.push(points);
    this.replan();
    this.root.classList.add('has-data');
    this.redraw(false);
  }

  redraw(force) {
    this.force = this.force || force;
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      const f = this.force;
      this.force = false;
      for (const c of this.charts) c.render(f);
    });
  }
}
