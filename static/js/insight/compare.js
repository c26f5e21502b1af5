// Compare runs: the loss curves of earlier runs of the same design (GET /api/runs?design_key=)
// over this run's, each with its settings (what differs from this run in bold); toggle per run.
// Which curves there are to compare comes from the run's kind (supervised: training and
// validation loss; a gan: D loss, G loss and MMD). Runs of a design that started differently
// (pre-trained as a deep belief net, or from random weights) are labelled so, and their curves
// counted from the start of fine-tuning.
// A run this browser started (its token kept) can be deleted here, with its history and files.

import { api as http, rememberRunToken, runToken } from '../api.js';
import { h, setAttr, setText, toast } from '../dom.js';
import { loadRun } from '../persist.js';
import { metric } from '../format.js';
import { cssVar } from './draw.js';
import { CORE, RUN_COLOURS, ago, initText, joinCurves, lossCurve, resultText, settingsDiff, settingsOf } from './runs.js';

const SHOWN_AT_FIRST = 3; // earlier runs drawn without asking
const LIVE = new Set(['queued', 'starting', 'running', 'paused']); // stopped before deleting
const ENDED = new Set(['finished', 'stopped']); // runs whose weights another run can start from

/** The page keeps the token of its last run only; remember each one for deleting it later. */
function keepLastToken() {
  const last = typeof localStorage === 'undefined' ? null : loadRun(localStorage);
  if (last?.runId && last?.token) rememberRunToken(last.runId, last.token);
}

export class CompareView {
  /** api: {list(designKey), run(runId)}; current(column) -> this run's history points;
   * onContinue(runId): the next run starts from that run's weights (null: not offered). */
  constructor(root, { uPlot, api, current, smoothing = () => 0.6, onContinue = null }) {
    this.uPlot = uPlot;
    this.onContinue = onContinue;
    this.api = api;
    this.current = current;
    this.smoothing = smoothing;
    this.runId = null;
    this.designKey = null;
    this.training = null;
    this.runs = [];
    this.shown = new Set();
    this.histories = new Map(); // run id -> history (ended runs do not change)
    this.column = 'train_loss';
    this.columns = [];
    this.log = true;
    this.plot = null;
    this.segsHost = h('div', { class: 'insight-segs' });
    this.setColumns([{ column: 'train_loss', label: 'Training loss' }, { column: 'val_loss', label: 'Validation loss' }]);
    const logBox = h('input', { type: 'checkbox', name: 'compare_log', checked: true });
    logBox.addEventListener('change', () => { this.log = logBox.checked; this.rebuild(); });
    this.host = h('div', { class: 'ic-chart' });
    this.readout = h('p', { class: 'ib-readout' });
    this.note = h('p', { class: 'insight-caption ic-note', hidden: true });
    this.list = h('div', { class: 'ic-list', role: 'list', 'aria-label': 'Earlier runs of this design' });
    this.empty = h('p', { class: 'insight-empty' });
    this.mine = h('div', { class: 'ic-run ic-this', hidden: true });
    root.append(h('div', { class: 'insight-toolbar' }, this.segsHost,
      h('label', { class: 'insight-check' }, logBox, 'Log')), this.host, this.readout, this.note, this.mine, this.list, this.empty);
    if (typeof ResizeObserver !== 'undefined') new ResizeObserver(() => this.plot?.setSize(this.chartSize())).observe(this.host);
  }

  /** The curves one may compare: [{column, label}], a button each (the one shown stays if it can). */
  setColumns(columns) {
    if (!columns?.length || JSON.stringify(columns) === JSON.stringify(this.columns)) return;
    this.columns = columns;
    if (!columns.some((c) => c.column === this.column)) this.column = columns[0].column;
    this.segs = columns.map(({ column, label }) => {
      const b = h('button', { type: 'button', class: 'insight-seg', dataset: { column }, 'aria-pressed': String(column === this.column) }, label);
      b.addEventListener('click', () => { this.column = column; this.segs.forEach((s) => setAttr(s, 'aria-pressed', String(s === b))); this.draw(); });
      return b;
    });
    this.segsHost.replaceChildren(...this.segs);
    if (this.plot) this.draw();
  }

  /** A new run (or none): its design's earlier runs are listed when the tab is shown. */
  setRun({ runId, designKey, training }) {
    keepLastToken();
    const same = designKey && designKey === this.designKey;
    this.runId = runId;
    this.designKey = designKey;
    this.training = training;
    if (!same) {
      this.runs = [];
      this.shown.clear();
      this.loaded = false;
    }
  }

  async load() {
    keepLastToken();
    if (!this.designKey) {
      this.render();
      return;
    }
    const key = this.designKey;
    try {
      const runs = await this.api.list(key);
      if (key !== this.designKey) return;
      const first = !this.loaded;
      this.runs = runs.filter((r) => r.run_id !== this.runId);
      this.loaded = true;
      if (first) this.runs.slice(0, SHOWN_AT_FIRST).forEach((r) => this.shown.add(r.run_id));
    } catch {
      this.runs = [];
    }
    this.render();
    await Promise.all([...this.shown].map((id) => this.history(id)));
    this.draw();
  }

  async history(runId) {
    if (!this.histories.has(runId)) {
      try {
        const run = await this.api.run(runId);
        const ended = !['queued', 'starting', 'running', 'paused'].includes(run.status?.state);
        if (ended) this.histories.set(runId, run.history || []);
        else return run.history || [];
      } catch {
        return [];
      }
    }
    return this.histories.get(runId);
  }

  colour(runId) {
    const i = this.runs.findIndex((r) => r.run_id === runId);
    return RUN_COLOURS[Math.max(0, i) % RUN_COLOURS.length];
  }

  /** Does how the runs started differ (some pre-trained, some not)? Then each says how. */
  startsDiffer() {
    return new Set([this.training, ...this.runs.map((r) => r.training)].map(initText)).size > 1;
  }

  /** "pre-trained (RBM)" or "random initialisation" beside a run's name, where that differs. */
  initTag(training) {
    return this.startsDiffer() ? h('span', { class: 'ic-init', dataset: { init: initText(training) } }, ` · ${initText(training)}`) : null;
  }

  render() {
    const now = Date.now() / 1000;
    this.empty.hidden = this.runs.length > 0;
    setText(this.empty, !this.designKey ? 'Train this design to compare its runs.'
      : 'No earlier runs of this design yet. Change a setting (the learning rate, say), train again, and the runs show up here side by side.');
    this.list.replaceChildren(...this.runs.map((run) => {
      const differs = settingsDiff(run.training, this.training);
      const box = h('input', { type: 'checkbox', checked: this.shown.has(run.run_id), 'aria-label': `Show run ${run.run_id}` });
      box.addEventListener('change', async () => {
        if (box.checked) this.shown.add(run.run_id);
        else this.shown.delete(run.run_id);
        await this.history(run.run_id);
        this.draw();
      });
      const removable = runToken(run.run_id) && !LIVE.has(run.status);
      const actions = [this.onContinue && ENDED.has(run.status) ? this.continueButton(run) : null,
        removable ? this.deleteButton(run) : null].filter(Boolean);
      return h('label', { class: 'ic-run', role: 'listitem', dataset: { compareRun: run.run_id },
        style: actions.length ? { gridTemplateColumns: 'auto auto minmax(0, 1fr) auto' } : null }, box,
      h('i', { class: 'ic-swatch', style: { background: this.colour(run.run_id) } }),
      h('span', { class: 'ic-run-text' },
        h('span', { class: 'ic-run-title' }, h('b', {}, run.run_id), this.initTag(run.training), ` · ${ago(run.created, now)} · ${run.status}`),
        h('span', { class: 'ic-run-settings' }, settingsOf(run.training).filter((s) => CORE.has(s.key) || differs.has(s.key))
          .map((s) => h(differs.has(s.key) ? 'b' : 'span', { title: differs.has(s.key) ? 'differs from this run' : null }, s.text))),
        h('span', { class: 'ic-run-result' }, resultText(run.summary))),
      actions.length ? h('span', { style: { display: 'flex', flexDirection: 'column', gap: '2px' } }, actions) : null);
    }));
    this.mine.hidden = !this.designKey;
    this.mine.replaceChildren(h('i', { class: 'ic-swatch ic-swatch-this' }), h('span', { class: 'ic-run-text' },
      h('span', { class: 'ic-run-title' }, h('b', {}, 'This run'), this.runId ? ` · ${this.runId}` : '', this.initTag(this.training)),
      h('span', { class: 'ic-run-settings' }, settingsOf(this.training).filter((s) => CORE.has(s.key) || s.key === 'seed')
        .map((s) => h('span', {}, s.text)))));
  }

  /** Continue from this run: the next Train starts from the weights it ended with (training.init). */
  continueButton(run) {
    return h('button', { type: 'button', class: 'btn btn-ghost ic-run-continue', dataset: { continueRun: run.run_id },
      title: 'The next Train starts from the weights this run ended with', 'aria-label': `Continue from run ${run.run_id}`,
      style: { padding: '2px 8px', fontSize: '12.5px' },
      onclick: (e) => {
        e.preventDefault();
        e.stopPropagation();
        this.onContinue(run.run_id);
      } }, 'Continue');
  }

  /** A button that deletes a run this browser started, after asking. */
  deleteButton(run) {
    return h('button', { type: 'button', class: 'btn btn-ghost btn-danger ic-run-delete', title: 'Delete this run, its history and its trained weights',
      'aria-label': `Delete run ${run.run_id}`, dataset: { deleteRun: run.run_id }, style: { padding: '2px 8px', fontSize: '12.5px' },
      onclick: async (e) => {
        e.preventDefault();
        e.stopPropagation();
        if (!window.confirm(`Delete run ${run.run_id}? Its history and trained weights are removed for good.`)) return;
        try {
          await http.deleteRun(run.run_id);
          this.runs = this.runs.filter((r) => r.run_id !== run.run_id);
          this.shown.delete(run.run_id);
          this.histories.delete(run.run_id);
          this.render();
          this.draw();
          toast(`Deleted run ${run.run_id}`, { kind: 'ok' });
        } catch (err) {
          toast(`Could not delete run ${run.run_id}: ${err.message}`, { kind: 'error', timeout: 8000 });
        }
      } }, 'Delete');
  }

  chartSize() {
    return { width: Math.max(200, this.host.clientWidth || 340), height: 180 };
  }

  rebuild() {
    this.plot?.destroy();
    this.plot = null;
    this.draw();
  }

  /** Redraw the curves (the tab is shown, a run toggled, this run's points arrived). */
  draw() {
    const mine = lossCurve(this.current(), { column: this.column, smoothing: this.smoothing() });
    const others = this.runs.filter((r) => this.shown.has(r.run_id) && this.histories.has(r.run_id));
    const curves = [mine, ...others.map((r) => lossCurve(this.histories.get(r.run_id), { column: this.column, smoothing: this.smoothing() }))];
    const data = joinCurves(curves);
    setAttr(this.host, 'data-series', curves.filter((c) => c.x.length).length);
    const offset = curves.some((c) => c.offset);
    this.note.hidden = !offset;
    setText(this.note, offset ? 'Steps count from the start of fine-tuning: a pre-trained run\'s pre-training steps are left out, so every curve starts at 0.' : '');
    this.host.hidden = data[0].length === 0;
    if (this.host.hidden || !this.uPlot || !this.host.clientWidth) return;
    const key = `${others.map((r) => r.run_id).join('|')}:${this.log}`;
    if (!this.plot || this.plotKey !== key) {
      this.plot?.destroy();
      this.plotKey = key;
      this.plot = this.build(others);
    }
    this.plot.setData(data);
  }

  build(others) {
    const text = cssVar('--muted', '#667');
    const grid = cssVar('--grid-line', 'rgba(0,0,0,.08)');
    const font = '11.5px Inter, system-ui, sans-serif';
    const axis = { stroke: text, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const tag = (training) => (this.startsDiffer() ? ` (${initText(training)})` : '');
    const labels = [`this run${tag(this.training)}`, ...others.map((r) => `${r.run_id}${tag(r.training)}`)];
    return new this.uPlot({
      ...this.chartSize(),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: { x: { time: false }, y: this.log ? { distr: 3 } : {} },
      axes: [{ ...axis, size: 30, values: (u, v) => v.map((x) => (x >= 1000 ? `${x / 1000}k` : x)) },
        { ...axis, size: 50, values: (u, v) => v.map((x) => (x == null ? '' : metric(x))) }],
      series: [{ label: 'step' },
        { label: 'this run', stroke: cssVar('--train', '#2457e6'), width: 3, spanGaps: true, points: { show: false } },
        ...others.map((r) => ({ label: r.run_id, stroke: this.colour(r.run_id), width: 2, spanGaps: true, points: { show: false } }))],
      hooks: { setCursor: [(u) => {
        const i = u.cursor.idx;
        setText(this.readout, i == null ? '' : `step ${u.data[0][i].toLocaleString('en-US')}: ${labels
          .map((l, k) => (u.data[k + 1][i] == null ? null : `${l} ${metric(u.data[k + 1][i])}`)).filter(Boolean).join(' · ')}`);
      }] },
    }, [[], ...labels.map(() => [])], this.host);
  }
}
