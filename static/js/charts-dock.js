// The chart dock: one MetricTable feeding the loss and accuracy charts, the smoothing slider
// and the log-scale toggle. Redraws at most once per animation frame.

import { $ } from './dom.js';
import { MetricChart } from './charts.js';
import { MetricTable } from './series.js';

const PREFS_KEY = 'layerlab.charts.v1';

export class ChartsDock {
  constructor(root, { uPlot, storage = window.localStorage }) {
    this.root = root;
    this.storage = storage;
    this.table = new MetricTable();
    const prefs = this.loadPrefs();
    this.smoothing = $('input[name=smoothing]', root);
    this.log = $('input[name=log_scale]', root);
    this.smoothingValue = $('.smoothing-value', root);
    this.smoothing.value = String(prefs.smoothing ?? 0.6);
    this.log.checked = Boolean(prefs.log);
    const options = () => ({ smoothing: Number(this.smoothing.value), log: this.log.checked });
    this.charts = ['loss', 'accuracy'].map((kind) => new MetricChart(
      $(`[data-chart=${kind}]`, root), kind, { uPlot, table: this.table, options }));
    this.available = Boolean(uPlot);
    this.smoothing.addEventListener('input', () => {
      this.showSmoothing();
      this.savePrefs();
      this.redraw(true);
    });
    this.log.addEventListener('change', () => {
      this.savePrefs();
      this.charts[0].build();
    });
    this.showSmoothing();
    this.frame = null;
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

  /** Draw fn(uplot) over both charts (the timeline's step marker); null removes it. */
  setOverlay(fn) {
    for (const c of this.charts) {
      c.overlay = fn;
      c.plot?.redraw(false);
    }
  }

  /** Create the plots (after the dock has its size, and again on a theme change). */
  build() {
    if (!this.available) return;
    for (const c of this.charts) c.build();
  }

  /** Classification shows accuracy; regression says why there is none. */
  setTask(task) {
    const acc = this.charts[1];
    if (task === 'regression') acc.setEnabled(false, 'Regression: no accuracy to show. The loss chart tracks the error.');
    else acc.setEnabled(true);
    this.redraw(true);
  }

  /** Replace everything with a run's history (watch, reload, new run). */
  reset(history = []) {
    this.table.clear();
    this.table.push(history);
    this.root.classList.toggle('has-data', this.table.length > 0);
    this.redraw(true);
  }

  push(points) {
    if (!points.length) return;
    this.table.push(points);
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
