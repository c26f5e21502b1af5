// The run card: dataset picker and preview, Train / Pause / Resume / Step / Stop, the learning
// rate, the progress bar and the run state. It shows state; main.js decides what buttons do.

import { $, h, setAttr, setText } from './dom.js';
import { formatNumber, lrToSlider, sliderToLr } from './fields.js';
import { compact, duration, ordinal } from './format.js';
import { ACTIVE } from './progress.js';

const STATE_LABEL = { idle: 'Ready', queued: 'Queued', starting: 'Starting', running: 'Training',
  paused: 'Paused', finished: 'Finished', stopped: 'Stopped', failed: 'Failed' };

export class RunPanel {
  constructor(root, { datasets, actions, readOnly = false }) {
    this.root = root;
    this.actions = actions;
    this.readOnly = readOnly;
    this.select = $('select[name=dataset]', root);
    this.select.replaceChildren(...[...datasets.values()].map((d) => h('option', { value: d.name },
      d.offline === false ? `${d.title} (downloads)` : d.title)));
    this.select.addEventListener('change', () => actions.setDataset(this.select.value));
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
  }

  /** Reflect the document: dataset choice, learning rate, and whether Train may be pressed. */
  renderDoc(doc, block) {
    const name = doc.training?.dataset?.name;
    if (name && this.select.value !== name) this.select.value = name;
    const lr = doc.training?.optimizer?.lr;
    if (lr && document.activeElement !== this.lrInput) this.lrInput.value = formatNumber(lr);
    if (lr && document.activeElement !== this.lrSlider) this.lrSlider.value = String(lrToSlider(lr));
    this.trainBlock = block; // null when the design may be trained, else {short, detail}
    this.update();
  }

  /** Reflect the run: status from run_status and progress from progress.js. */
  renderRun(status, prog) {
    this.state = status?.state || 'idle';
    setAttr(this.stateBadge, 'data-run-state', this.state);
    setText(this.stateBadge, STATE_LABEL[this.state] || this.state);
    setText(this.device, status?.device ? String(status.device).toUpperCase() : '');
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
    parts.push(prog.epochs ? `Epoch ${Math.min(prog.epochs, Math.floor(prog.epoch))} / ${prog.epochs}`
      : `Epoch ${Math.floor(prog.epoch)}`);
    parts.push(`step ${prog.step.toLocaleString('en-US')}`);
    if (prog.samplesPerSecond) parts.push(`${compact(prog.samplesPerSecond)} samples/s`);
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
    b.stop.disabled = !active;
    this.select.disabled = this.readOnly || active;
    if (this.audience) this.audience.hidden = this.state === 'idle' || this.readOnly;
    this.root.classList.toggle('is-active', active);
  }
}
