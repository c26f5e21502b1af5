// One training run seen from the page: train, control, set_hparams, watch, and the pushed
// run_status / run_metrics events for that run. No DOM; the views subscribe to callbacks.
// A new run started while the page holds its previous run's token is linked to it
// (`follow_on`), so the previous run's audience follows; `run_next` and a watch ack's
// next_run_id tell a watcher where the run's owner went on to (onNext).

import { ACTIVE } from './progress.js';
import { ackError } from './problem.js';

export class RunClient {
  constructor(conn, { onStatus = () => {}, onPoints = () => {}, onHistory = () => {},
    onFrame = () => {}, onRun = () => {}, onNext = () => {}, onLinked = () => {} } = {}) {
    this.conn = conn;
    this.cb = { onStatus, onPoints, onHistory, onFrame, onRun, onNext, onLinked };
    this.runId = null;
    this.token = null;
    this.document = null; // the document the run trains (its training section drives progress)
    this.status = null;
    this.pendingTrain = false;
    this.early = []; // events for a run whose train ack has not arrived yet
    this.owned = null; // {runId, token} of the last run this page controlled (kept by forget())
    this.nexts = new Map(); // run id -> the run its owner went on to (run_next events seen)
    conn.on('run_status', (msg) => this.route('status', msg));
    conn.on('run_metrics', (msg) => this.route('metrics', msg));
    // Kept even for a run not adopted yet: a watch whose ack is still on its way may miss it.
    conn.on('run_next', (msg) => {
      if (!msg?.run_id || !msg.next_run_id) return;
      this.nexts.set(msg.run_id, msg.next_run_id);
      if (msg.run_id === this.runId) this.cb.onNext(msg.next_run_id, msg.run_id);
    });
    // Picture frames are acknowledged once handled: the server sends the next one only then.
    // The newest frame of each kind is also kept in `latest`.
    this.latest = {};
    this.designKey = null; // from train's ack: lists the design's earlier runs
    const frames = { run_boundary: 'boundary', run_activations: 'activations', run_health: 'health',
      run_results: 'results', run_weights: 'weights', run_samples: 'samples', run_generated: 'generated', run_environment: 'environment',
      run_filters: 'filters', run_text: 'text' };
    this.views = new Map(); // kind -> views that take that kind's frames themselves (onFrameOf)
    for (const [event, kind] of Object.entries(frames)) {
      conn.on(event, (msg, ack) => {
        this.route(kind, msg);
        if (typeof ack === 'function') ack();
      });
    }
    conn.onState((up) => {
      if (up && this.runId) this.watch(this.runId, { token: this.token, quiet: true });
    });
  }

  get controllable() {
    return Boolean(this.runId && this.token);
  }

  get active() {
    return Boolean(this.status && ACTIVE.has(this.status.state));
  }

  route(kind, msg) {
    if (!msg || !msg.run_id) return;
    if (msg.run_id !== this.runId) {
      if (this.pendingTrain) this.early.push([kind, msg]);
      return;
    }
    if (kind === 'status') {
      this.status = { ...(this.status || {}), ...msg };
      this.cb.onStatus(this.status);
    } else if (kind === 'metrics') this.cb.onPoints(msg.points || []);
    else {
      this.latest[kind] = msg;
      this.cb.onFrame(kind, msg);
      for (const fn of this.views.get(kind) || []) fn(msg);
    }
  }

  /** Hand every frame of one kind of this run to `fn` as well (a view of its own, e.g. run_text's). */
  onFrameOf(kind, fn) {
    if (!this.views.has(kind)) this.views.set(kind, []);
    this.views.get(kind).push(fn);
  }

  /** Stop receiving a run's pictures (its training goes on). */
  leave() {
    if (this.runId && this.conn.connected) {
      this.conn.request('unwatch', { run_id: this.runId }).catch(() => {});
    }
    this.latest = {};
  }

  adopt(runId, token, document) {
    if (this.runId && this.runId !== runId) this.leave();
    this.runId = runId;
    this.token = token;
    if (token) this.owned = { runId, token };
    this.document = document;
    this.status = { run_id: runId, state: 'queued', step: 0, epoch: 0 };
    this.cb.onRun({ runId, token, document });
  }

  /** Start training doc; resolves to the ack or throws an Error with .errors. */
  async train(doc) {
    const previous = this.owned;
    this.pendingTrain = true;
    this.early = [];
    try {
      const ack = await this.conn.request('train', doc, 30000);
      if (!ack || !ack.ok) {
        throw ackError(ack, 'the server refused to train this design');
      }
      this.designKey = ack.design_key || null;
      this.adopt(ack.run_id, ack.token, doc);
      if (previous && previous.runId !== ack.run_id) this.followOn(previous);
      this.cb.onHistory([], this.status);
      const early = this.early.filter(([, msg]) => msg.run_id === ack.run_id);
      this.early = [];
      for (const [kind, msg] of early) this.route(kind, msg);
      this.cb.onStatus(this.status);
      return ack;
    } finally {
      this.pendingTrain = false;
    }
  }

  /** Link the previous run this page controlled to the current one: its audience moves on. */
  async followOn(previous) {
    let ack;
    try {
      ack = await this.conn.request('follow_on', { run_id: previous.runId, token: previous.token,
        next_run_id: this.runId, next_token: this.token });
    } catch (err) {
      ack = { ok: false, error: 'unavailable', message: err.message };
    }
    this.cb.onLinked(ack || { ok: false, message: 'no answer' }, previous.runId);
    return ack;
  }

  /** Pause, resume, stop, or step: `steps` more steps of `network` (a gan's d, g or both;
   * a kind with one step button sends none). */
  async control(action, steps, network = null) {
    if (!this.controllable) throw new Error('no run to control');
    const payload = { run_id: this.runId, token: this.token, action };
    if (steps) payload.steps = steps;
    if (network) payload.network = network;
    const ack = await this.conn.request('control', payload);
    if (!ack?.ok) throw ackError(ack, `could not ${action} the run`);
    if (ack.state) {
      this.status = { ...this.status, state: ack.state };
      this.cb.onStatus(this.status);
    }
    return ack;
  }

  async setLr(lr) {
    return this.setHparams({ lr }, 'could not change the learning rate');
  }

  /** Change live hyperparameters by name ({lr}, a gan's {generator_lr}); null when not running. */
  async setHparams(values, refused = 'could not change the run\'s settings') {
    if (!this.controllable || !this.active) return null;
    const ack = await this.conn.request('set_hparams', { run_id: this.runId, token: this.token, ...values });
    if (!ack?.ok) throw ackError(ack, refused);
    return ack;
  }

  /** A dqn run's environment frames follow its greedy player (on) or its training episodes;
   * resolves to the ack's `greedy`, or null when there is no live run to ask. */
  async greedy(on) {
    if (!this.controllable || !this.active) return null;
    const ack = await this.conn.request('greedy', { run_id: this.runId, token: this.token, on: Boolean(on) });
    if (!ack?.ok) throw ackError(ack, 'could not switch the greedy player');
    return Boolean(ack.greedy);
  }

  /** Watch a run (after a reload, or read-only); replaces the charts with its history. */
  async watch(runId, { token = null, document = null, quiet = false } = {}) {
    const ack = await this.conn.request('watch', { run_id: runId });
    if (!ack?.ok) {
      if (!quiet) throw ackError(ack, `run ${runId} was not found`);
      return ack;
    }
    if (this.runId && this.runId !== runId) this.leave();
    this.designKey = ack.design_key || (this.runId === runId ? this.designKey : null);
    this.runId = runId;
    this.token = token;
    if (token) this.owned = { runId, token };
    this.document = ack.document || ack.config || document || this.document;
    this.status = { run_id: runId, ...(ack.status || {}) };
    this.cb.onRun({ runId, token, document: this.document });
    this.cb.onHistory(ack.history || [], this.status);
    this.cb.onStatus(this.status);
    // Its owner went on to another run: the newest one of the chain when the server knows it.
    const next = ack.latest_run_id || ack.next_run_id || this.nexts.get(runId);
    if (next && next !== runId) this.cb.onNext(next, runId);
    return ack;
  }

  /** Forget the run (New design): charts keep nothing. */
  forget() {
    this.leave();
    this.runId = null;
    this.token = null;
    this.designKey = null;
    this.status = null;
    this.document = null;
    this.cb.onRun({ runId: null, token: null, document: null });
  }
}
