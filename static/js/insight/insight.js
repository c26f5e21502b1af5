// Live insight: routes a run's picture frames (run_boundary, run_activations, run_health,
// run_results, run_weights, run_samples, a gan's run_generated, a pre-training layer's
// run_filters) to the page — the data preview,
// the node thumbnails and the Insight panel's views — and swaps them for a checkpoint's while the
// timeline is dragged. It also tells the charts and the Runs tab which kind of run is shown.

import { api } from '../api.js';
import { previewQuery } from '../dataset-preview.js';
import { $, h, setAttr, setText, toast } from '../dom.js';
import { DONE } from '../progress.js';
import { addShortcuts } from '../shortcuts.js';
import { BoundaryView } from './boundary.js';
import { CompareView } from './compare.js';
import { EnvironmentView } from './environment.js';
import { BadgeTip, HealthView } from './health.js';
import { HealthHistory } from './health-series.js';
import { FiltersView } from './filters.js';
import { GeneratedView } from './generated.js';
import { compareColumns, entryOf, generatorNodes, kindName, onKinds } from './kinds.js';
import { LayerView } from './layer.js';
import { InsightPanel } from './panel.js';
import { sampleSet } from './pictures.js';
import { ResultsView } from './results.js';
import { spread } from './seeker.js';
import { TimelineBar, stepMarker } from './timeline.js';

const KINDS = ['boundary', 'generated', 'environment', 'filters', 'activations', 'health', 'results', 'weights'];
const GAME = 'gan'; // the kind whose runs send run_generated: its D(x) is drawn there, not as a boundary
const BACKFILL = 16; // checkpoints read to draw the health chart of a run watched late

export class Insight {
  constructor(app, { uPlot }) {
    this.app = app;
    this.live = {}; // kind -> newest frame from the server
    this.shown = {}; // kind -> the frame on screen (live, or a checkpoint's)
    this.samples = null; // the fixed validation samples (a sampleSet)
    this.selected = 0; // the sample followed (this page's pick, or the owner's from the frames)
    this.pending = null; // a pick not yet seen in run_activations (older frames follow the old one)
    this.runId = null;
    this.history = new HealthHistory();
    const pick = (i) => this.pick(i);
    this.panel = new InsightPanel({ workspace: $('.workspace'), before: $('.stage'), tools: $('.canvas-tools'),
      onShow: (tab) => this.showTab(tab), onLayout: (open) => this.layoutChanged(open) });
    this.boundary = new BoundaryView(this.panel.body('boundary'), { onPick: pick });
    this.generated = new GeneratedView(this.panel.body('generated'),
      { metricAt: (name, step) => this.app.charts.table.lastAt(name, step) });
    this.environment = new EnvironmentView(this.panel.body('environment'), { environments: app.environments });
    this.filters = new FiltersView(this.panel.body('filters'),
      { errorAt: (layer, step) => this.app.charts.table.lastAt(`reconstruction_error@${layer}`, step),
        layerNow: () => this.app.charts.table.phase?.layer ?? null });
    this.layer = new LayerView(this.panel.body('layer'), { describe: (id) => this.describe(id), onPick: pick,
      onNode: (id) => { this.layer.setNode(id); this.app.canvas.revealNode(id); } });
    this.health = new HealthView(this.panel.body('health'), { uPlot, onNode: (id) => this.openLayer(id) });
    this.health.setHistory(this.history);
    this.results = new ResultsView(this.panel.body('results'), { onPick: pick });
    this.compare = new CompareView(this.panel.body('runs'), { uPlot,
      api: { list: (key) => api.runs(key), run: (id) => api.run(id) },
      current: () => this.currentHistory(), smoothing: () => Number($('input[name=smoothing]')?.value ?? 0.6),
      onContinue: app.readOnly ? null : (id) => app.continueFrom?.(id) }); // training.init: start-weights.js
    this.timeline = new TimelineBar(this.panel.foot, { request: (event, payload) => app.conn.request(event, payload),
      onSeek: (ack) => this.showCheckpoint(ack),
      onError: (err) => toast(`Timeline: ${err.message}`, { kind: 'error' }) });
    this.tip = new BadgeTip($('.canvas'), (id) => this.shown.health?.nodes?.[id]);
    this.pill = h('button', { type: 'button', class: 'seek-pill canvas-overlay', hidden: true, title: 'Back to live' });
    this.pill.addEventListener('click', () => this.timeline.goLive());
    $('.canvas').append(this.pill);
    this.wire();
    this.applyKind();
    this.setAvailability();
    onKinds(() => this.applyKind());
    addShortcuts([{ group: 'View', keys: ['I'], action: 'insight', label: 'Insight: boundary, layers, health, results, runs' }]);
  }

  /** A shortcut's action; true when it was this panel's. */
  run(action) {
    if (action !== 'insight') return false;
    this.panel.toggle();
    return true;
  }

  // -- frames -----------------------------------------------------------------------------------

  /** A picture frame pushed by the server for the run this page shows. */
  frame(kind, msg) {
    if (kind === 'samples') {
      this.samples = sampleSet(msg);
      this.applySamples();
      return;
    }
    if (kind === 'health' && this.history.push(msg) && this.panel.current === 'health') this.redrawHealth();
    this.live[kind] = msg;
    this.timeline.setLiveStep(msg?.step);
    if (typeof msg?.selected === 'number' && kind === 'activations' && (this.pending == null || msg.selected === this.pending)) {
      this.selected = msg.selected;
      this.pending = null;
      this.selectedKnown = true;
    }
    if (!this.timeline.seeking) this.apply(kind, msg);
    if (this.app.readOnly && !this.autoOpened && innerWidth >= 1200) {
      this.autoOpened = true; // the audience page has room: show the pictures at once
      this.panel.open();
    }
  }

  apply(kind, msg) {
    this.shown[kind] = msg || null;
    if (kind === 'boundary') {
      // A gan's D(x) is "how real", not a class: drawn under its generated samples only.
      const game = this.isGame();
      this.app.preview.setBoundary(game ? null : msg || null);
      this.boundary.set(game ? null : msg);
      this.generated.setBoundary(game ? msg : null);
      if (msg && !game) this.panel.setAvailable('boundary', true);
    } else if (kind === 'generated') {
      this.generated.set(msg, { past: Boolean(msg) && msg !== this.live.generated });
      if (msg) this.panel.setAvailable('generated', true);
      setAttr(this.panel.tabs.get('generated'), 'data-badges', msg?.badges?.length || null);
      this.autoOpen(msg, 'generated');
    } else if (kind === 'filters') {
      this.filters.set(msg, { past: Boolean(msg) && msg !== this.live.filters });
      if (msg) this.panel.setAvailable('filters', true);
      this.autoOpen(msg, 'filters');
    } else if (kind === 'environment') { // a dqn's episode (its own tab; the design has no data to preview)
      this.environment.set(msg);
      if (msg) this.panel.setAvailable('environment', true);
      this.autoOpen(msg, 'environment');
    } else if (kind === 'activations') {
      this.app.canvas.setActivations(msg?.nodes || null);
      this.layer.setActivations(msg);
      this.updateSelection();
    } else if (kind === 'health') {
      this.app.canvas.setHealth(msg?.nodes || null);
      this.health.set(msg);
    } else if (kind === 'results') {
      this.results.set(msg);
      this.layer.setResults(msg);
      if (msg) this.panel.setAvailable('results', true);
    } else if (kind === 'weights') this.layer.setWeights(msg);
  }

  applySamples() {
    this.results.setSamples(this.samples);
    this.layer.setSamples(this.samples);
    this.boundary.setSamples(this.samples);
    this.updateSelection(); // samples make picking possible
  }

  /** A checkpoint's frames from the timeline, or null to return to live. */
  showCheckpoint(ack) {
    for (const kind of KINDS) {
      const frame = ack ? ack[kind] : this.live[kind];
      if (frame || !ack) this.apply(kind, frame || null);
    }
    const step = ack?.step ?? null;
    this.app.charts.setOverlay?.(step == null ? null : stepMarker(step));
    this.app.charts.root.dataset.marker = step ?? '';
    this.health.setMarker(step);
    this.pill.hidden = step == null;
    setText(this.pill, step == null ? '' : `Showing step ${step.toLocaleString('en-US')} · back to live`);
  }

  /** Is the run (or design) shown a gan's? */
  isGame() {
    return this.kind === GAME;
  }

  /** A gan's first pictures of a run open the panel at them once, where there is room; a
   * pre-training layer's filters also take over an open panel (they show for a while only). */
  autoOpen(msg, tab) {
    if (!msg || this.opened === this.runId || innerWidth < 1200) return;
    this.opened = this.runId;
    if (!this.panel.isOpen || tab === 'filters') this.panel.open(tab);
  }

  /** The GET /api/environments entry a design plays (a dqn's), or null. */
  environmentOf(doc) {
    return this.app.environments?.get(doc?.training?.environment?.name) || null;
  }

  /** The charts and the Runs tab follow the kind of the run shown (or of the design, before one). */
  applyKind(doc = this.app.runClient?.document || this.app.store?.doc) {
    const entry = entryOf(doc);
    this.kind = kindName(doc);
    this.app.charts?.setKind?.(entry, { environment: this.environmentOf(doc) });
    this.compare.setColumns(compareColumns(entry));
  }

  // -- picking a sample -------------------------------------------------------------------------

  canPick() {
    const rc = this.app.runClient;
    return Boolean(rc.controllable && rc.active && this.samples);
  }

  pickNote() {
    const rc = this.app.runClient;
    if (!rc.runId) return '';
    if (!rc.controllable) return 'The page that started the run picks the sample; you see what it picked.';
    if (!rc.active) return 'Samples can be picked while the run trains.';
    return 'Click a sample to follow it through the network.';
  }

  async pick(index) {
    if (!this.canPick() || index === this.selected) return;
    const rc = this.app.runClient;
    this.selected = index;
    this.pending = index;
    this.timeline.goLive();
    this.updateSelection();
    try {
      const ack = await this.app.conn.request('select_sample', { run_id: rc.runId, token: rc.token, index });
      if (!ack?.ok) throw new Error(ack?.message || 'the server refused');
    } catch (err) {
      if (this.pending === index) this.pending = null; // the frames say what is followed
      toast(`Could not follow that sample: ${err.message}`, { kind: 'error' });
    }
  }

  updateSelection() {
    const can = this.canPick();
    const note = this.pickNote();
    // A watcher learns the owner's pick only from frames that name it (`selected`); a
    // checkpoint's pictures follow the sample picked then.
    const past = this.shown.activations !== this.live.activations ? this.shown.activations?.selected : null;
    const known = this.app.runClient.controllable || this.selectedKnown;
    const index = typeof past === 'number' ? past : known ? this.selected : null;
    this.boundary.setSelection(index, can);
    this.layer.setSelection(index, can, note);
    this.results.setSelection(index, can, note);
  }

  // -- the run ----------------------------------------------------------------------------------

  /** The page follows another run (or none). */
  async setRun({ runId, document }) {
    if (runId === this.runId) return; // watched again after a reconnect: keep everything
    this.runId = runId;
    this.live = {};
    this.samples = null;
    this.selected = 0;
    this.pending = null;
    this.selectedKnown = false;
    this.history.clear();
    this.backfilled = false;
    this.timeline.setRun(runId);
    this.generated.reset();
    this.environment.reset((document || this.app.store.doc)?.training?.environment?.name);
    this.filters.reset();
    const doc = document || this.app.store.doc; // a watched run's own design may come later
    this.applyKind(doc);
    for (const kind of KINDS) this.apply(kind, null);
    this.applySamples();
    this.showCheckpoint(null);
    this.setAvailability(doc);
    this.loadTrainPoints(doc);
    this.compare.setRun({ runId, designKey: null, training: doc?.training });
    this.compareStale = true;
    if (runId && this.panel.remembered().open && !this.panel.isOpen) this.panel.open();
    if (runId) {
      const key = this.app.runClient.designKey || await api.run(runId).then((r) => r.design_key).catch(() => null);
      if (runId !== this.runId) return;
      this.compare.setRun({ runId, designKey: key, training: (this.app.runClient.document || this.app.store.doc)?.training });
      if (this.panel.isOpen && this.panel.current === 'runs') this.showTab('runs');
    }
  }

  setStatus(status) {
    const rc = this.app.runClient;
    this.timeline.setStatus(status, { active: rc.active, ended: DONE.has(status?.state) });
    this.updateSelection();
  }

  /** Which tabs make sense: a boundary for 2-D data, results for classifiers. */
  setAvailability(document = this.app.runClient?.document || this.app.store.doc) {
    const spec = document?.training?.dataset;
    const meta = this.app.datasets.get(spec?.name);
    const loss = document?.training?.loss || 'auto';
    const game = kindName(document) === GAME; // labels are ignored: no classes, no boundary
    const plane = (meta?.input_shape || []).join() === '2';
    const classes = !game && meta?.task === 'classification' && (loss === 'auto' || loss === 'cross_entropy')
      && document?.training?.task !== 'reconstruction';
    // The tab that comes first, so that the one going away falls back to it.
    const views = [['generated', game || Boolean(this.shown.generated)], ['boundary', !game && (plane || Boolean(this.shown.boundary))]];
    for (const [tab, yes] of game ? views : views.reverse()) this.panel.setAvailable(tab, yes);
    this.panel.setAvailable('filters', Boolean(this.shown.filters)); // a run pre-training sends them
    const env = this.environmentOf(document); // a dqn's: its own tab, drawn at rest until frames come
    this.panel.setAvailable('environment', Boolean(env) || Boolean(this.shown.environment));
    if (!this.shown.environment) this.environment.setEnvironment(env?.name);
    this.panel.setAvailable('results', classes || Boolean(this.shown.results));
    this.boundary.setClasses(meta?.classes);
    this.layer.classes = game ? null : meta?.classes || null;
  }

  /** The training points under the boundary: the dataset preview (up to 500 points). */
  async loadTrainPoints(document) {
    const spec = document?.training?.dataset;
    const key = JSON.stringify(spec || null);
    if (key === this.pointsFor) return;
    this.pointsFor = key;
    const meta = this.app.datasets.get(spec?.name);
    this.boundary.setTrain(null);
    const query = meta?.preview_url && meta.offline !== false && spec && previewQuery(spec, meta);
    if (!query || (meta.input_shape || []).join() !== '2' || kindName(document) === GAME) return;
    try {
      const preview = await api.preview(meta.preview_url, { ...query, limit: 500 });
      if (key === this.pointsFor) this.boundary.setTrain(preview);
    } catch { /* no preview: the boundary shows alone */ }
  }

  // -- the panel --------------------------------------------------------------------------------

  showTab(tab) {
    if (tab === 'boundary') this.boundary.draw();
    else if (tab === 'generated') this.generated.draw();
    else if (tab === 'environment') this.environment.draw();
    else if (tab === 'filters') this.filters.draw();
    else if (tab === 'layer') this.layer.draw();
    else if (tab === 'results') this.results.draw();
    else if (tab === 'health') {
      this.redrawHealth();
      this.backfillHealth();
    } else if (tab === 'runs') {
      if (this.compareStale) {
        this.compareStale = false;
        this.compare.load();
      } else this.compare.draw();
    }
  }

  layoutChanged(open) {
    this.app.canvas.fit();
    this.timeline.setVisible(open);
    if (open) this.showTab(this.panel.current);
    clearInterval(this.ticker);
    this.ticker = open ? setInterval(() => {
      if (this.panel.current === 'runs' && this.app.runClient.active) this.compare.draw();
    }, 1000) : null;
  }

  openLayer(id) {
    this.layer.setNode(id);
    this.panel.open('layer');
  }

  redrawHealth() {
    if (this.healthFrame) return;
    this.healthFrame = requestAnimationFrame(() => {
      this.healthFrame = null;
      this.health.draw();
    });
  }

  /** A run watched after it trained has one health frame: read a few checkpoints for a curve. */
  async backfillHealth() {
    const runId = this.runId;
    if (!runId || this.backfilled || this.history.length >= 3) return;
    this.backfilled = true;
    const checkpoints = await this.app.conn.request('timeline', { run_id: runId }).then((a) => a?.checkpoints || []).catch(() => []);
    for (const i of spread(checkpoints.length, BACKFILL)) {
      const ack = await this.app.conn.request('seek', { run_id: runId, step: checkpoints[i].step }).catch(() => null);
      if (runId !== this.runId) return;
      if (ack?.health) this.history.push(ack.health);
    }
    this.redrawHealth();
  }

  // -- the page around the panel ----------------------------------------------------------------

  describe(id) {
    const doc = this.app.runClient.document || this.app.store.doc;
    const node = doc?.nodes?.find((n) => n.id === id);
    const shown = this.app.canvas.nodes.get(id)?.parts.shape.textContent;
    // A gan has two networks: its Noise is a source as its Input is, and neither lies after the other.
    return { type: node?.type || '', shape: shown || '?', sink: Boolean(node && !doc.edges.some((e) => e.source === id)),
      source: Boolean(node && !doc.edges.some((e) => e.target === id)),
      plane: generatorNodes(doc).has(id) ? 'noise' : 'input' };
  }

  /** This run's points of the metrics the Runs tab compares. */
  currentHistory() {
    const t = this.app.charts.table;
    const steps = t.steps();
    const cols = this.compare.columns.map(({ column }) => [column, t.column(column)]);
    return Array.from(steps, (step, i) => Object.fromEntries([['step', step], ['phase', t.rowPhase[i]],
      ...cols.map(([c, v]) => [c, v[i]])]));
  }

  wire() {
    const { app } = this;
    // A click (no drag) on a node's picture enlarges it; on its health badge, the health chart.
    // canvas-input captures the pointer on the canvas, so the press is noted here and judged on release.
    $('.canvas .nodes').addEventListener('pointerdown', (e) => {
      const target = e.target.closest?.('.node-viz, .node-health');
      this.press = target ? { x: e.clientX, y: e.clientY, id: target.closest('.node').dataset.nodeId,
        health: target.classList.contains('node-health') } : null;
    }, true);
    window.addEventListener('pointerup', (e) => {
      const p = this.press;
      this.press = null;
      if (!p || Math.hypot(e.clientX - p.x, e.clientY - p.y) > 4) return;
      if (p.health) this.panel.open('health');
      else this.openLayer(p.id);
    });
    const preview = $('.preview-canvas');
    preview.title = 'Click to enlarge';
    preview.addEventListener('click', () => this.panel.open(['generated', 'environment', 'boundary', 'results']
      .find((tab) => this.panel.available.has(tab)) || 'layer'));
    app.store.subscribe((change) => {
      const id = app.store.selectedNode;
      if (change.selection && id && this.panel.isOpen && this.panel.current === 'layer' && this.shown.activations?.nodes?.[id]) {
        this.layer.setNode(id);
      }
      if (change.doc && !this.runId) {
        this.applyKind(app.store.doc);
        this.setAvailability(app.store.doc);
      } else if (change.doc && !app.runClient.document) { // a watched run's design arrives by HTTP
        this.applyKind(app.store.doc);
        this.setAvailability(app.store.doc);
        this.loadTrainPoints(app.store.doc);
      }
    });
    new MutationObserver(() => this.repaint()).observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    addEventListener('resize', () => { if (this.panel.isOpen) this.showTab(this.panel.current); });
  }

  /** The theme changed: canvas-drawn views take the new colours. */
  repaint() {
    this.health.rebuild();
    this.compare.rebuild();
    if (this.panel.isOpen) this.showTab(this.panel.current);
  }
}
