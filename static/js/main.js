// Layerlab's page: load the catalogs, build the views, and wire them to the store and server.
// Third-party globals (io, uPlot) are read here only and injected into the modules.

import { api } from './api.js';
import { Baseline } from './baseline.js';
import { Canvas } from './canvas.js';
import { attachCanvasInput } from './canvas-input.js';
import { ChartsDock } from './charts-dock.js';
import * as cmd from './commands.js';
import { DatasetPreview } from './dataset-preview.js';
import { $, h, setText, toast } from './dom.js';
import * as files from './files.js';
import { emptyDocument, normalizeDocument } from './graph.js';
import { Insight } from './insight/insight.js';
import { Inspector } from './inspector.js';
import { importOnnx } from './onnx-import.js';
import { Palette } from './palette.js';
import { decodeDoc, loadLocal, parseHash, saveLocal } from './persist.js';
import { problemText } from './problem.js';
import { Problems, trainBlock } from './problems.js';
import { DONE } from './progress.js';
import { RunPanel } from './run-panel.js';
import { ServerStatus } from './server-status.js';
import { bindShortcuts, renderHelp } from './shortcuts.js';
import { Connection } from './socket.js';
import { StartWeights } from './start-weights.js';
import { Store } from './store.js';
import { createTalk } from './talk/talk.js';
import { TextPanel } from './text-panel.js';
import { followSystem, toggleTheme } from './theme.js';
import { createTraining } from './training.js';
import { TrainingForm } from './training-form.js';
import { TrainingSchema } from './training-schema.js';
import { provideKinds } from './insight/kinds.js';
import { TryOnnx } from './try-onnx.js';
import { Validator } from './validator.js';

const readOnly = document.body.dataset.readOnly === 'true';

async function firstDocument(examples, schema) {
  const hash = parseHash(location.hash);
  if (hash.design) {
    try {
      const doc = await files.loadSaved(hash.design);
      if (doc) return { doc: normalizeDocument(doc), designId: hash.design };
    } catch (err) {
      toast(`Design ${hash.design} could not be opened: ${err.message}`, { kind: 'error', timeout: 8000 });
    }
  }
  if (hash.doc) {
    try {
      return { doc: normalizeDocument(await decodeDoc(hash.doc)) };
    } catch {
      toast('The design in this link could not be read.', { kind: 'error' });
    }
  }
  const saved = loadLocal(localStorage);
  if (saved?.doc) {
    try {
      return { doc: normalizeDocument(saved.doc), designId: saved.designId || null, savedJson: saved.savedJson };
    } catch { /* fall through to a starter */ }
  }
  const starter = examples.find((e) => e.id === 'spiral_mlp') || examples[0];
  return { doc: starter ? normalizeDocument(starter.document) : emptyDocument(undefined, schema.starter()),
    tidy: Boolean(starter) };
}

async function boot() {
  const [layers, datasetList, trainingSchema, examples, environmentList] = await Promise.all([api.layers(), api.datasets(),
    api.training(), api.examples().catch(() => []), api.environments().catch(() => [])]);
  const app = { readOnly, examples, pending: null };
  app.catalog = new Map(layers.map((l) => [l.type, l]));
  app.datasets = new Map(datasetList.map((d) => [d.name, d]));
  app.environments = new Map(environmentList.map((e) => [e.name, e])); // what a dqn design plays
  app.trainingSchema = new TrainingSchema(trainingSchema); // the form, new designs and the kinds' views
  provideKinds(trainingSchema);
  const first = await firstDocument(examples, app.trainingSchema);
  const store = new Store(first.doc);
  app.store = store;
  app.designId = first.designId || null;
  app.savedJson = first.savedJson || (first.designId ? JSON.stringify(first.doc) : null);

  app.conn = new Connection(window.io).connect();
  let built = false; // server_status may arrive before the views below exist
  app.serverStatus = new ServerStatus($('.canvas'), app.conn, { onChange: () => { if (built) renderReport(); } });
  let report = null;
  app.validator = new Validator({
    send: (doc) => (app.conn.connected ? app.conn.request('validate', doc).catch(() => api.validate(doc))
      : api.validate(doc)),
    onResult: (r) => { report = r; renderReport(); },
  });

  const canvasRoot = $('.canvas');
  app.canvas = new Canvas(canvasRoot, { catalog: app.catalog });
  const zoomLabel = $('.zoom-level');
  app.canvas.onView = (v) => setText(zoomLabel, `${Math.round(v.k * 100)}%`);
  app.canvas.applyView();
  let running = false;
  const draw = (doc = store.doc) => app.canvas.render(doc, report, store.selection, { running });
  attachCanvasInput(app.canvas, { store, catalog: app.catalog, readOnly, hooks: {
    preview: (doc) => draw(doc || store.doc),
    notify: (msg) => toast(msg, { kind: 'error' }),
    editNode: (id) => { store.select({ nodes: [id] }); inspector.focusFirst(); },
    quickAdd: (at, link = null) => {
      if (readOnly) return;
      app.pending = { at, link, until: Date.now() + 20_000 };
      palette?.focusSearch();
      toast(link ? 'Pick the layer to connect there: type to search, Enter to add'
        : 'Pick a layer to add there: type to search, Enter to add', { timeout: 3000 });
    },
    cancelQuickAdd: () => { app.pending = null; },
  } });

  const palette = readOnly ? null : new Palette($('.palette'), layers, {
    add: (type) => cmd.addLayer(app, type),
    drop: (type, cx, cy) => {
      const r = canvasRoot.getBoundingClientRect();
      if (cx < r.left || cx > r.right || cy < r.top || cy > r.bottom) return;
      cmd.addLayer(app, type, app.canvas.clientToWorld(cx, cy));
    },
  });
  const inspector = new Inspector($('.inspector'), { catalog: app.catalog, store, readOnly, actions: {
    remove: (ids) => { store.select({ nodes: ids }); cmd.deleteSelection(app); },
    duplicate: (ids) => cmd.duplicateSelection(app, ids),
  } });
  // training.init, the weights a run starts from: drawn by start-weights.js in the training form
  const rc = () => app.runClient;
  const startWeights = new StartWeights({ store, examples, readOnly,
    lastRun: () => (rc()?.runId ? { runId: rc().runId, document: rc().document, state: rc().status?.state } : null) });
  const trainingForm = new TrainingForm($('.training-form'), { store, datasets: app.datasets,
    environments: app.environments, schema: app.trainingSchema, readOnly, custom: { init: () => startWeights.field() } });
  app.ownData = trainingForm.own; // uploads of your own data (own-data.js), also dropped on the canvas
  app.continueFrom = (runId) => { // the Runs tab's Continue: the next run starts from that run's weights
    startWeights.setInit({ run: runId });
    toast(`The next Train starts from the weights run ${runId} ended with`, { kind: 'ok' });
  };
  app.preview = new DatasetPreview($('.preview-canvas'), $('.preview-caption'));
  app.charts = new ChartsDock($('.dock'), { uPlot: window.uPlot });
  const problems = new Problems($('.statusbar'), {
    selectNode: (id) => { store.select({ nodes: [id] }); app.canvas.revealNode(id); },
    showTraining: (param) => {
      store.clearSelection();
      const path = String(param || '').replace(/^training\./, ''); // each field is named by its path
      $(`.side [name="${path}"], .side [name="${path.split('.').pop()}"]`)?.focus();
    },
  });

  const training = createTraining(app);
  app.insight = new Insight(app, { uPlot: window.uPlot }); // the run's pictures: insight/
  app.runPanel = new RunPanel($('.run-card'), { datasets: app.datasets, environments: app.environments,
    actions: training.actions, readOnly, runClient: training.runClient, store, schema: app.trainingSchema,
    metricNow: (name) => app.charts.table.last(name) }); // a kind's own steps and rates go straight to the run
  app.baseline = new Baseline($('.run-card'), { conn: app.conn, store, charts: app.charts, datasets: app.datasets, readOnly,
    schema: app.trainingSchema,
    onForest: (frame) => { app.preview.setForest(frame); app.insight.boundary.setForest(frame); } }); // the random forest to beat
  app.textPanel = new TextPanel($('.side-scroll'), { runClient: training.runClient }); // run_text
  app.tryOnnx = new TryOnnx($('[data-action=try-onnx]'), { datasets: app.datasets }); // the exported model, tried
  app.onModelExported = (model) => app.tryOnnx.offer(model);
  app.onRunState = (state) => {
    running = state === 'running';
    document.body.dataset.run = state; // not data-run-state: that hook names exactly one element
    draw();
    if (DONE.has(state)) trainingForm.render(store.doc, report); // "Continue from run" is offered
    app.talk?.refresh();
  };
  app.talk = createTalk(app, training);
  app.onNew = () => { training.runClient.forget(); app.charts.reset([]); training.showProgress(); };

  const nameInput = $('.design-name');
  nameInput.readOnly = readOnly;
  nameInput.addEventListener('change', () => files.rename(app, nameInput.value));
  nameInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') nameInput.blur(); });
  const saveState = $('.save-state');

  function renderReport() {
    draw();
    inspector.render(store.doc, report, store.selectedNode);
    trainingForm.render(store.doc, report);
    problems.render(report, store.doc, { pending: app.validator.pending });
    app.runPanel.renderDoc(store.doc, trainBlock(store.doc, report, { connected: app.conn.connected })
      || app.serverStatus.trainBlock()); // a lost Ray cluster: why Train cannot start
  }

  function renderAll(change = {}) {
    const doc = store.doc;
    if (document.activeElement !== nameInput) nameInput.value = doc.name;
    document.title = `${readOnly ? `Run ${document.body.dataset.runId} · ` : ''}${doc.name} · Layerlab`;
    const selected = store.selectedNode;
    $('.training-form').hidden = Boolean(selected);
    renderReport();
    $('[data-action=undo]').disabled = !store.canUndo;
    $('[data-action=redo]').disabled = !store.canRedo;
    const dirty = app.savedJson !== JSON.stringify(doc);
    setText(saveState, readOnly ? 'Watching · read-only' : app.designId && !dirty ? 'Saved' : 'Autosaved');
    saveState.classList.toggle('is-badge', readOnly);
    if (change.doc) {
      app.textPanel.setDocument(doc);
      const spec = doc.training?.dataset;
      if (spec) app.preview.show(spec, app.datasets.get(spec.name), doc.training?.task);
      else if (app.trainingSchema.picker(doc.training) === 'environment') { // a dqn's: none chosen yet shows blank
        app.preview.showEnvironment(app.environments.get(doc.training?.environment?.name) || null);
      } else if (app.preview.env) app.preview.showEnvironment(null, { none: '' }); // no longer a dqn: no picture left over
    }
  }

  store.subscribe((change) => {
    renderAll(change);
    if (change.history && !app.canvas.anyVisible()) app.canvas.fit(); // undo brought back a design off screen
    if (change.doc && !readOnly) {
      app.validator.request(store.doc);
      saveLocal(localStorage, store.doc, { designId: app.designId, savedJson: app.savedJson });
    }
  });
  app.onSaved = () => renderAll({});
  app.renderPage = () => renderAll({}); // the audience page moved on to another run (talk/follow.js)
  app.conn.onState(() => renderReport());

  wireToolbar(app, training);
  bindShortcuts((action, e) => runShortcut(app, training, action, e));
  renderHelp($('.help-overlay'));
  followSystem(() => repaint(app));

  built = true;
  document.body.classList.remove('is-loading');
  app.charts.build();
  store.reset(first.tidy ? files.tidied(app, store.doc) : store.doc); // nothing to undo yet
  requestAnimationFrame(() => app.canvas.fit());
  app.validator.now(store.doc);
  if (readOnly) await readOnlyMode(app, training);
  else if (!(await app.talk.openShared())) await training.resume();
  window.layerlab = app; // for the console and the benchmarks
}

async function readOnlyMode(app, training) {
  const runId = document.body.dataset.runId;
  const load = async () => {
    try {
      await training.runClient.watch(runId);
      const doc = training.runClient.document;
      if (doc) files.openDocument(app, doc, { tidy: true });
    } catch (err) {
      toast(`Run ${runId}: ${problemText(err)}`, { kind: 'error', timeout: 10000 });
    }
  };
  if (app.conn.connected) await load();
  else app.conn.onState((up) => { if (up && !training.runClient.runId) load(); });
  if (!training.runClient.document) {
    try {
      const summary = await api.run(runId);
      const doc = summary.config?.document || summary.document || summary.config;
      if (doc?.nodes) files.openDocument(app, doc, { tidy: true });
    } catch { /* the socket watch shows what there is */ }
  }
}

function wireToolbar(app, training) {
  const on = (action, fn) => document.querySelectorAll(`[data-action="${action}"]`)
    .forEach((el) => el.addEventListener('click', (e) => fn(e.currentTarget)));
  const fileInput = $('input[name=document_file]');
  on('new', () => files.newDesign(app));
  on('save', () => files.save(app));
  on('share', () => files.share(app));
  on('download', () => files.download(app));
  on('delete-design', () => {
    if (app.designId && confirm(`Delete the saved “${app.store.doc.name}” from the server?`)) {
      files.deleteDesign(app);
    } else if (!app.designId) {
      toast('This design is not saved on the server.', { kind: 'info' });
    }
  });
  // A chosen or dropped file opens by its kind: a model is imported, data becomes the dataset.
  const openFile = (file) => {
    if (/\.onnx$/i.test(file.name)) importOnnx(app, file, (doc) => files.openDocument(app, doc, { tidy: true }));
    else if (/\.(csv|tsv|zip|txt|md)$/i.test(file.name)) app.ownData.upload(file);
    else files.upload(app, file);
  };
  const closeOpen = files.bindMenu($('.open-menu'), $('[data-action=upload]'));
  const onnxInput = $('input[name=onnx_file]');
  on('open-file', () => { closeOpen(); fileInput.click(); });
  on('import-onnx', () => { closeOpen(); onnxInput.click(); });
  for (const input of [fileInput, onnxInput]) {
    input.addEventListener('change', () => {
      if (input.files?.[0]) openFile(input.files[0]);
      input.value = '';
    });
  }
  on('export-onnx', (btn) => files.exportModel(app, 'onnx', btn));
  on('export-pytorch', (btn) => files.exportModel(app, 'pytorch', btn));
  on('theme', () => toggleTheme(() => repaint(app)));
  on('help', () => toggleHelp(true));
  on('close-help', () => toggleHelp(false));
  on('undo', () => app.store.undo());
  on('redo', () => app.store.redo());
  on('zoom-in', () => app.canvas.zoomBy(1.2));
  on('zoom-out', () => app.canvas.zoomBy(1 / 1.2));
  on('zoom-reset', () => app.canvas.zoomBy(1 / app.canvas.view.k));
  on('fit', () => app.canvas.fit());
  on('tidy', () => cmd.tidy(app));
  $('.help-overlay').addEventListener('click', (e) => { if (e.target.classList.contains('help-overlay')) toggleHelp(false); });
  if (!app.readOnly) files.fillExamples(app, $('.examples-menu'), $('[data-action=examples]'));
  const canvas = $('.canvas');
  canvas.addEventListener('dragover', (e) => { if (e.dataTransfer?.types.includes('Files')) e.preventDefault(); });
  canvas.addEventListener('drop', (e) => {
    const file = e.dataTransfer?.files?.[0];
    if (file && !app.readOnly) {
      e.preventDefault();
      openFile(file);
    }
  });
  void training;
}

/** Views drawn on <canvas> take their colours from the theme: draw them again. */
function repaint(app) {
  app.charts.build();
  app.preview.draw();
  if (app.canvas.frames) app.canvas.setActivations(app.canvas.frames);
}

function toggleHelp(show) {
  const overlay = $('.help-overlay');
  overlay.hidden = show === undefined ? !overlay.hidden : !show;
  if (!overlay.hidden) overlay.querySelector('[data-action=close-help]').focus();
}

function runShortcut(app, training, action, e) {
  if (app.talk?.run(action, e)) return true; // talk mode's keys (talk/keys.js) come first
  if (app.insight?.run(action)) return true; // I: the Insight panel
  const edit = !app.readOnly;
  const helpOpen = !$('.help-overlay').hidden;
  if (action === 'escape') {
    if (helpOpen) toggleHelp(false);
    else if (e.target instanceof HTMLElement && e.target.matches('input, select, textarea')) e.target.blur();
    else app.store.clearSelection();
    return true;
  }
  const table = {
    delete: () => edit && cmd.deleteSelection(app),
    duplicate: () => edit && cmd.duplicateSelection(app),
    copy: () => cmd.copySelection(app),
    cut: () => edit && cmd.cutSelection(app),
    paste: () => edit && cmd.paste(app),
    undo: () => edit && app.store.undo(),
    redo: () => edit && app.store.redo(),
    selectAll: () => cmd.selectAll(app),
    nudge: () => edit && cmd.nudge(app, e.key, e.shiftKey),
    search: () => { $('input[name=layer_search]')?.focus(); return true; },
    fit: () => { app.canvas.fit(); return true; },
    tidy: () => edit && cmd.tidy(app),
    zoomIn: () => { app.canvas.zoomBy(1.2); return true; },
    zoomOut: () => { app.canvas.zoomBy(1 / 1.2); return true; },
    zoomReset: () => { app.canvas.zoomBy(1 / app.canvas.view.k); return true; },
    theme: () => { toggleTheme(() => repaint(app)); return true; },
    help: () => { toggleHelp(); return true; },
    save: () => { if (edit) files.save(app); return true; },
    train: () => { if (edit) training.actions.train(); return true; },
    stop: () => { if (edit && training.runClient.active) training.actions.stop(); return true; },
  };
  return Boolean(table[action]?.());
}

boot().catch((err) => {
  document.body.classList.remove('is-loading');
  document.body.append(h('div', { class: 'fatal' }, h('h2', {}, 'Layerlab could not start'),
    h('p', {}, err.message), h('p', {}, 'Is the server running? Reload to try again.')));
  throw err;
});
