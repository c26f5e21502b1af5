// The run card: dataset picker and preview, Train / Pause / Resume / Step / Stop, the learning
// rate, the progress bar and the run state. It shows state; main.js decides what buttons do.
// The step buttons and the live rates follow the run's kind (GET /api/training): a gan gets
// Step D / Step G / Step both and a second rate, the generator's, which this card sends itself.

import { $, h, setAttr, setText, toast } from './dom.js';
import { formatNumber, lrToSlider, parseValue, rateSlider, sliderToLr } from './fields.js';
import { bytesText, compact, duration, ordinal } from './format.js';
import { getPath, setPath } from './graph.js';
import { entryOf, hparamPlan, onKinds, stepPlan } from './insight/kinds.js';
import { problemText } from './problem.js';
import { ACTIVE } from './progress.js';

const STATE_LABEL = { idle: 'Ready', queued: 'Queued', starting: 'Starting', running: 'Training',
  paused: 'Paused', finished: 'Finished', stopped: 'Stopped', failed: 'Failed' };

export class RunPanel {
  /** runClient and store: for the controls a kind adds (a gan's network steps and its
   * generator's rate); without them the card has the supervised controls only. */
  constructor(root, { datasets, environments = new Map(), actions, readOnly = false, runClient = null, store = null,
    schema = null, metricNow = () => null }) {
    this.root = root;
    this.metricNow = metricNow; // name -> the run's newest value of a metric (a charted rate's, ε)
    this.schema = schema; // the training schema: a rate the document leaves out shows its default
    this.actions = actions;
    this.readOnly = readOnly;
    this.runClient = runClient;
    this.store = store;
    this.doc = null;
    this.select = $('select[name=dataset]', root);
    this.select.replaceChildren(...[...datasets.values()].map((d) => h('option', { value: d.name },
      d.offline === false ? `${d.title} (downloads)` : d.title)));
    this.select.addEventListener('change', () => actions.setDataset(this.select.value));
    // A design that plays an environment (a dqn's) picks it here instead, from GET /api/environments.
    this.pickLabel = $('.dataset-row .ui-label', root);
    this.envSelect = h('select', { id: 'environment-select', name: 'environment', hidden: true },
      h('option', { value: '', disabled: true }, 'Choose an environment'),
      [...environments.values()].map((e) => h('option', { value: e.name, disabled: !e.available,
        title: e.available ? e.doc : e.unavailable_reason }, e.available ? e.title : `${e.title} (not installed)`)));
    this.envSelect.addEventListener('change', () => actions.setEnvironment(this.envSelect.value));
    this.select.after(this.envSelect);
    this.environments = environments;
    this.buttons = Object.fromEntries(['train', 'pause', 'resume', 'step', 'stop']
      .map((name) => [name, $(`[data-action=${name}]`, root)]));
    for (const [name, btn] of Object.entries(this.buttons)) {
      btn.addEventListener('click', () => actions[name]());
    }
    this.hint = $('.train-hint', root);
    this.lrSlider = $('input[name=lr_slider]', root);
    this.lrInput = $('input[name=lr]', root);
    this.lrSlider.addEventListener('input', () => {
      const lr = sliderToLr(Number(this.lrSlider.value));
      this.lrInput.value = formatNumber(lr);
      actions.setLr(lr, { live: false });
    });
    this.lrSlider.addEventListener('change', () => actions.setLr(sliderToLr(Number(this.lrSlider.value)), { live: true }));
    this.lrInput.addEventListener('change', () => {
      const lr = Number(this.lrInput.value);
      const ok = Number.isFinite(lr) && lr > 0 && lr <= 10;
      this.lrInput.closest('.lr-row').classList.toggle('is-invalid', !ok);
      if (ok) actions.setLr(lr, { live: true });
    });
    this.bar = $('.progress-bar', root);
    this.fill = $('.progress-fill', root);
    this.progressText = $('.progress-text', root);
    this.stateBadge = $('[data-run-state]', root);
    this.device = $('.device-badge', root);
    this.message = $('.run-message', root);
    this.audience = $('[data-action=audience]', root);
    if (readOnly) {
      this.lrSlider.disabled = true;
      this.lrInput.disabled = true;
    }
    this.audience?.addEventListener('click', () => actions.audience());
    this.state = 'idle';
    this.trainBlock = null;
    this.lrLabel = $('.lr-row .ui-label', root);
    this.stepRow = h('div', { class: 'run-steps edit-only', role: 'group', 'aria-label': 'Step one network', hidden: true });
    $('.run-buttons', root).after(this.stepRow);
    this.stepButtons = [];
    this.greedyButton = h('button', { type: 'button', class: 'btn', dataset: { action: 'greedy' }, 'aria-pressed': 'false',
      title: 'Watch the policy as it is now play its own episodes without exploring, while training goes on' }, 'Watch greedy');
    this.greedyButton.addEventListener('click', () => this.toggleGreedy());
    this.greedyRow = h('div', { class: 'run-greedy edit-only', hidden: true }, this.greedyButton);
    this.stepRow.after(this.greedyRow);
    this.rates = []; // the rows of live rates after the first: [{hp, row, slider, input}]
    onKinds(() => this.applyKind());
  }

  // -- what the run's kind adds -----------------------------------------------------------------

  /** The document whose kind the controls follow: the active run's, else the open design. */
  kindDoc() {
    const rc = this.runClient;
    return rc?.active && rc.document ? rc.document : this.doc;
  }

  /** Does the run (or design) shown play an environment (a dqn's)? */
  playingNow() {
    return this.schema?.picker(this.kindDoc()?.training || {}) === 'environment';
  }

  applyKind() {
    const entry = entryOf(this.kindDoc());
    this.episodic = Boolean(entry?.metrics?.some((m) => m?.x === 'episode')); // counts episodes, not epochs
    const steps = stepPlan(entry);
    const hparams = hparamPlan(entry);
    const key = JSON.stringify([steps, hparams]);
    if (key === this.kindKey) return;
    this.kindKey = key;
    this.buildSteps(steps);
    this.buildRates(hparams);
    if (this.doc) this.renderRates(this.doc);
    this.update();
  }

  /** One Step button, or one per network the kind steps (each sends its `network`). */
  buildSteps(steps) {
    const several = steps.length > 1;
    this.buttons.step.hidden = several;
    this.root.classList.toggle('has-step-row', several);
    this.stepRow.hidden = !several;
    this.stepButtons = several ? steps.map((s) => {
      const b = h('button', { type: 'button', class: 'btn', dataset: { action: 'step-network', network: s.network },
        title: `${s.doc || `${s.label}: one step`}, then pause` }, s.label);
      b.addEventListener('click', () => this.step(s.network, s.label));
      return b;
    }) : [];
    this.stepRow.replaceChildren(...this.stepButtons);
    if (!several) setText(this.buttons.step, steps[0]?.label || 'Step');
  }

  async step(network, label) {
    if (!this.runClient) {
      this.actions.step();
      return;
    }
    try {
      await this.runClient.control('step', 1, network);
    } catch (err) {
      toast(`Could not do “${label}”: ${problemText(err)}`, { kind: 'error', timeout: 8000 });
    }
  }

  /** The learning-rate row is the kind's first live rate; each further one gets a row below. */
  buildRates(hparams) {
    const [first, ...more] = hparams;
    setText(this.lrLabel, first?.label || 'Learning rate');
    setAttr(this.lrLabel, 'title', first?.doc || 'Learning rate: change it while training');
    for (const r of this.rates) r.row.remove();
    let after = this.lrInput.closest('.lr-row');
    this.rates = (this.store ? more : []).map((hp) => {
      const id = `rate-${hp.name}`;
      const scale = rateSlider(hp); // log for rates above 0, linear for one from 0 (ε)
      const slider = h('input', { type: 'range', name: `${hp.name}_slider`, min: '0', max: '1000', step: '1',
        'aria-label': `${hp.label} (${scale.linear ? 'linear' : 'log'} scale)`, disabled: this.readOnly });
      const input = h('input', { type: 'text', id, name: hp.name, inputmode: 'decimal', spellcheck: 'false',
        autocomplete: 'off', disabled: this.readOnly });
      const row = h('div', { class: 'lr-row', dataset: { hparam: hp.name } },
        h('label', { for: id, class: 'ui-label', title: hp.doc || `${hp.label}: change it while training` }, hp.label), slider, input);
      slider.addEventListener('input', () => {
        const v = scale.fromSlider(Number(slider.value));
        input.value = formatNumber(v);
        this.setRate(hp, v, { live: false });
      });
      slider.addEventListener('change', () => this.setRate(hp, scale.fromSlider(Number(slider.value)), { live: true }));
      // The catalog's bounds (a learning rate's (0, 10] when it gives none).
      const bounds = hp.min == null && hp.max == null ? { min: 0, min_exclusive: true, max: 10 } : hp;
      input.addEventListener('change', () => {
        const { value, error } = parseValue({ ...bounds, type: 'float' }, input.value);
        const ok = value !== undefined && !error;
        row.classList.toggle('is-invalid', !ok);
        setAttr(input, 'title', ok ? null : `${hp.label} ${error || 'must be a number'}`);
        if (ok) this.setRate(hp, value, { live: true });
      });
      after.after(row);
      after = row;
      return { hp, row, slider, input, scale };
    });
    this.root.classList.toggle('has-rates', this.rates.length > 0);
  }

  /** Put a rate in the document (undoable, typing coalesced) and, while training, into the run.
   * A rate the kind charts (ε, which a schedule moves) set mid-run goes to the run only: the
   * design keeps where its schedule starts. */
  async setRate(hp, value, { live }) {
    const rc = this.runClient;
    if (!(hp.charted && rc?.active)) this.store.commit(setPath(this.store.doc, ['training', ...hp.path], value), { key: hp.name });
    if (!live || !rc?.active || !rc.controllable) return;
    try {
      if (await rc.setHparams({ [hp.name]: value })) toast(`${hp.label} is now ${formatNumber(value)}`, { kind: 'ok', timeout: 2500 });
    } catch (err) {
      toast(`Could not change the ${hp.label.toLowerCase()}: ${problemText(err)}`, { kind: 'error', timeout: 8000 });
    }
  }

  /** Each rate's value: the design's, or while a run trains a charted rate's value now (ε). */
  renderRates(doc) {
    const active = Boolean(this.runClient?.active);
    for (const { hp, slider, input, scale } of this.rates) {
      const v = (hp.charted && active ? this.metricNow(hp.name) : null) ?? this.rateOf(doc, hp.path) ?? hp.default;
      if (typeof v !== 'number') continue;
      if (document.activeElement !== input) input.value = formatNumber(Number(v.toPrecision(4)));
      if (document.activeElement !== slider) slider.value = String(scale.toSlider(v));
    }
  }

  /** Watch greedy: the run's environment frames follow its greedy player, or its training again. */
  async toggleGreedy() {
    const on = this.greedyButton.getAttribute('aria-pressed') !== 'true';
    try {
      const now = await this.runClient?.greedy(on);
      if (now != null) this.showGreedy(now);
    } catch (err) {
      toast(`Could not ${on ? 'watch' : 'stop watching'} the greedy policy: ${problemText(err)}`, { kind: 'error', timeout: 8000 });
    }
  }

  showGreedy(on) {
    setAttr(this.greedyButton, 'aria-pressed', on ? 'true' : 'false');
  }

  /** A rate of the document, or the schema's default for it there (an optimizer's own lr). */
  rateOf(doc, path) {
    const parts = Array.isArray(path) ? path : path.split('.');
    if (this.schema) return this.schema.value(parts.join('.'), doc.training || {});
    return getPath(doc.training || {}, parts);
  }

  /** Reflect the document: dataset choice, learning rate, and whether Train may be pressed. */
  renderDoc(doc, block) {
    const name = doc.training?.dataset?.name;
    if (name && this.select.value !== name) this.select.value = name;
    this.renderPicker(doc);
    const lr = this.rateOf(doc, 'optimizer.lr');
    if (lr && document.activeElement !== this.lrInput) this.lrInput.value = formatNumber(lr);
    if (lr && document.activeElement !== this.lrSlider) this.lrSlider.value = String(lrToSlider(lr));
    this.trainBlock = block; // null when the design may be trained, else {short, detail}
    this.doc = doc;
    this.applyKind();
    this.renderRates(doc);
    this.update();
  }

  /** The picker the design's kind learns from: a dataset, or an environment (a dqn's). */
  renderPicker(doc) {
    const playing = this.schema?.picker(doc.training || {}) === 'environment';
    this.select.hidden = playing;
    this.envSelect.hidden = !playing;
    setText(this.pickLabel, playing ? 'Environment' : 'Dataset');
    setAttr(this.pickLabel, 'for', playing ? 'environment-select' : 'dataset-select');
    const env = this.environments.get(doc.training?.environment?.name);
    const value = env ? env.name : '';
    if (playing && this.envSelect.value !== value) this.envSelect.value = value;
    setAttr(this.envSelect, 'title', env?.doc || null);
    this.playing = playing;
  }

  /** Reflect the run: status from run_status and progress from progress.js. */
  renderRun(status, prog) {
    this.state = status?.state || 'idle';
    if (status?.run_id !== this.greedyRun) { // a new run plays its training episodes first
      this.greedyRun = status?.run_id;
      this.showGreedy(false);
    }
    setAttr(this.stateBadge, 'data-run-state', this.state);
    setText(this.stateBadge, STATE_LABEL[this.state] || this.state);
    // The device the run trains on (a GPU's name with it), and the GPU memory the run holds.
    const held = status?.gpu_memory != null ? ` · ${bytesText(status.gpu_memory)}` : '';
    setText(this.device, status?.device ? `${String(status.device).toUpperCase()}${held}` : '');
    this.device.hidden = !status?.device;
    let message = '';
    if (this.state === 'queued' && status.queue_position != null) {
      message = status.queue_position > 0
        ? `Waiting for a free worker: ${ordinal(status.queue_position)} in the queue` : 'Next in the queue';
    } else if (this.state === 'failed') message = status.message || 'The run failed.';
    else if (status?.message) message = status.message;
    setText(this.message, message);
    this.message.hidden = !message;
    this.message.classList.toggle('is-error', this.state === 'failed');
    this.renderProgress(prog);
    this.applyKind();
    if (this.doc) this.renderRates(this.doc);
    this.update();
  }

  renderProgress(prog) {
    const frac = prog?.fraction;
    this.bar.classList.toggle('is-indeterminate', this.state === 'running' && frac == null);
    this.fill.style.transform = `scaleX(${frac ?? (this.state === 'finished' ? 1 : 0)})`;
    setAttr(this.bar, 'aria-valuenow', frac == null ? null : Math.round(frac * 100));
    if (!prog || (!prog.step && this.state === 'idle')) {
      setText(this.progressText, this.readOnly ? 'Waiting for the run…' : 'Not trained yet');
      return;
    }
    if (!prog.step && (this.state === 'queued' || this.state === 'starting')) {
      setText(this.progressText, this.state === 'queued' ? 'Waiting for a worker…'
        : 'Loading the data and building the model…');
      return;
    }
    const parts = [];
    if (prog.layer) parts.push(`Pre-training ${prog.layer}`); // a deep belief net's layer, before its epochs
    else {
      parts.push(prog.epochs ? `Epoch ${Math.min(prog.epochs, Math.floor(prog.epoch))} / ${prog.epochs}`
        : `Epoch ${Math.floor(prog.epoch)}`);
    }
    // A run that plays episodes counts them (a point's epoch) and environment steps, not samples.
    if (this.episodic) parts.splice(0, parts.length, episodesText(prog));
    parts.push(`step ${prog.step.toLocaleString('en-US')}`);
    if (this.episodic) {
      if (prog.stepsPerSecond) parts.push(`${compact(prog.stepsPerSecond)} steps/s`);
    } else if (prog.samplesPerSecond) parts.push(`${compact(prog.samplesPerSecond)} samples/s`);
    if (prog.eta != null) parts.push(`${duration(prog.eta)} left`);
    setText(this.progressText, parts.join(' · '));
  }

  update() {
    const active = ACTIVE.has(this.state);
    const b = this.buttons;
    const block = this.trainBlock;
    b.train.disabled = this.readOnly || active || Boolean(block);
    setAttr(b.train, 'title', active ? 'A run is in progress: stop it to train again'
      : block ? block.detail : 'Train this design (Ctrl+Enter)');
    setAttr(b.train, 'aria-describedby', block && !active ? 'train-hint' : null);
    setText(this.hint, !active && block ? block.short : '');
    this.hint.hidden = active || !block;
    b.pause.hidden = this.state === 'paused';
    b.resume.hidden = this.state !== 'paused';
    b.pause.disabled = !['running', 'starting', 'queued'].includes(this.state);
    b.resume.disabled = this.state !== 'paused';
    b.step.disabled = !['running', 'paused'].includes(this.state);
    for (const s of this.stepButtons) s.disabled = b.step.disabled;
    b.stop.disabled = !active;
    this.select.disabled = this.readOnly || active;
    this.envSelect.disabled = this.readOnly || active;
    // Watch greedy: a run that plays an environment, live and this page's to control.
    this.greedyRow.hidden = !this.playingNow();
    this.greedyButton.disabled = !['running', 'paused'].includes(this.state) || !this.runClient?.controllable;
    if (this.audience) this.audience.hidden = this.state === 'idle' || this.readOnly;
    this.root.classList.toggle('is-active', active);
  }
}

/** "12 episodes", or "Episode 12 / 200" when the run is bounded by episodes. */
function episodesText(prog) {
  const done = Math.floor(prog.epoch || 0);
  if (prog.episodes) return `Episode ${Math.min(done, prog.episodes).toLocaleString('en-US')} / ${prog.episodes.toLocaleString('en-US')}`;
  return `${done.toLocaleString('en-US')} ${done === 1 ? 'episode' : 'episodes'}`;
}
