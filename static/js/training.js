// Training from the page: the run card's buttons, the learning rate, the dataset choice, and the
// pushed run events routed to the charts, the progress bar and the dataset preview.

import { toast } from './dom.js';
import { problemText } from './problem.js';
import { formatNumber } from './fields.js';
import { copyLink } from './files.js';
import { setInputShape, setPath } from './graph.js';
import { loadRun, saveRun } from './persist.js';
import { DONE, progress } from './progress.js';
import { RunClient } from './run-client.js';

/** The chart task of a document: "regression" when there is no accuracy to show. */
export function chartTask(doc, datasets) {
  const t = doc?.training || {};
  if (t.task === 'reconstruction') return 'regression';
  if (t.loss === 'mse' || t.loss === 'l1') return 'regression';
  const meta = datasets.get(t.dataset?.name);
  if (t.dataset?.name === 'csv') return t.dataset.task === 'regression' ? 'regression' : 'classification';
  return meta?.task || 'classification';
}

export function createTraining(app) {
  const { charts, preview, datasets } = app;
  let frame = null;

  // The layer a run is training on its own now (a deep belief net's, pre-training) is marked
  // on the canvas while the run is live.
  let phaseLayer = null;
  const markPhase = () => {
    const now = charts.table.phase;
    const layer = runClient.active && now?.layer ? now.layer : null;
    if (layer === phaseLayer) return;
    phaseLayer = layer;
    app.canvas.setPretraining(layer);
    app.insight?.filters.draw(); // its words say whether the layer still pre-trains
  };

  const showProgress = () => {
    if (frame !== null) return;
    frame = requestAnimationFrame(() => {
      frame = null;
      const status = runClient.status || { state: 'idle' };
      app.runPanel?.renderRun(status, progress(status, charts.table, runClient.document?.training || {}));
    });
  };

  const runClient = new RunClient(app.conn, {
    onStatus: (status) => {
      app.onRunState(status.state);
      app.insight?.setStatus(status);
      markPhase();
      showProgress();
      if (status.state === 'failed') toast(`Training failed: ${status.message || 'see the server log'}`, { kind: 'error', timeout: 10000 });
      if (DONE.has(status.state) && app.runClient?.token) saveRun(localStorage, { runId: runClient.runId, token: runClient.token });
    },
    onPoints: (points) => {
      charts.push(points);
      markPhase();
      showProgress();
    },
    onHistory: (history) => {
      charts.setTask(chartTask(runClient.document || app.store.doc, datasets));
      charts.reset(history);
      markPhase();
      showProgress();
      app.baseline?.runKnown(runClient.designKey, runClient.document); // a stored forest of this design
    },
    onFrame: (kind, msg) => app.insight?.frame(kind, msg), // pictures: insight/insight.js
    onRun: ({ runId, token, document }) => {
      saveRun(localStorage, runId && token ? { runId, token } : null);
      app.insight?.setRun({ runId, document });
      app.onRunState(runClient.status?.state || 'idle');
    },
    onNext: (runId) => app.talk?.follow(runId), // the audience page moves on: talk/follow.js
    onLinked: (ack, from) => {
      // The previous run's audience could not be sent on (a run the server forgot needs none).
      if (!ack.ok && ack.error !== 'not_found') {
        toast(`The audience of run ${from} could not follow to this run: ${ack.message}`,
          { kind: 'error', timeout: 8000 });
      }
    },
  });
  app.runClient = runClient;

  async function guarded(fn, what) {
    try {
      return await fn();
    } catch (err) {
      toast(`Could not ${what}: ${problemText(err)}`, { kind: 'error', timeout: 8000 });
      return null;
    }
  }

  const actions = {
    async train() {
      if (runClient.active) return;
      const doc = app.store.doc;
      const report = await app.validator.now(doc);
      if (!report.ok) {
        toast(`Fix the design first: ${report.errors[0]?.message || 'it is not valid'}`, { kind: 'error' });
        return;
      }
      preview.setBoundary(null);
      app.canvas.setActivations(null);
      app.canvas.setHealth(null);
      charts.setTask(chartTask(doc, datasets));
      charts.reset([]);
      await guarded(() => runClient.train(doc), 'start training');
    },
    pause: () => guarded(() => runClient.control('pause'), 'pause'),
    resume: () => guarded(() => runClient.control('resume'), 'resume'),
    step: () => guarded(() => runClient.control('step', 1), 'step'),
    stop: () => guarded(() => runClient.control('stop'), 'stop'),
    async setLr(lr, { live }) {
      app.store.commit(setPath(app.store.doc, ['training', 'optimizer', 'lr'], lr), { key: 'lr' });
      if (live && runClient.active && runClient.controllable) {
        const ok = await guarded(() => runClient.setLr(lr), 'change the learning rate');
        if (ok) toast(`Learning rate is now ${formatNumber(lr)}`, { kind: 'ok', timeout: 2500 });
      }
    },
    setDataset(name) {
      const meta = datasets.get(name);
      let doc = setPath(app.store.doc, ['training', 'dataset'], { name });
      const fixed = meta?.input_shape && !meta.params?.some((p) => p.name === 'seq_len');
      doc = setInputShape(doc, fixed ? meta.input_shape : null);
      app.store.commit(doc);
    },
    /** A dqn design plays another environment: its Input takes the observation's shape (the
     * sink's size is the design's to fix: the server names it), and the params both take stay. */
    setEnvironment(name) {
      const env = app.environments?.get(name);
      const old = app.store.doc.training?.environment || {};
      const spec = { name };
      for (const p of env?.params || []) if (old[p.name] !== undefined) spec[p.name] = old[p.name];
      let doc = setPath(app.store.doc, ['training', 'environment'], spec);
      if (env?.input_shape) doc = setInputShape(doc, env.input_shape);
      app.store.commit(doc);
    },
    audience() {
      if (runClient.runId) copyLink(`${location.origin}/run/${encodeURIComponent(runClient.runId)}`, 'Audience link copied: it shows this run, read-only');
    },
  };

  /** After a reload: pick the last run back up (with control when this page started it). */
  async function resume() {
    const bodyRun = document.body.dataset.runId;
    const saved = loadRun(localStorage);
    const target = bodyRun || saved?.runId;
    if (!target) {
      showProgress();
      return;
    }
    const token = !bodyRun || bodyRun === saved?.runId ? saved?.token : null;
    const attempt = async () => {
      try {
        await runClient.watch(target, { token: app.readOnly ? null : token });
      } catch (err) {
        if (bodyRun) toast(`Run ${target}: ${problemText(err)}`, { kind: 'error', timeout: 10000 });
        else saveRun(localStorage, null);
      }
    };
    if (app.conn.connected) await attempt();
    else app.conn.onState((up) => { if (up && !runClient.runId) attempt(); });
    showProgress();
  }

  return { actions, runClient, resume, showProgress };
}
