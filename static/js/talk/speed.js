// The speed row of the run card: slow motion from one step a second to full speed. The chosen
// speed belongs to the page: it is sent to the current run and to every run started after it,
// and survives a reload of the tab (sessionStorage), so the page and the run keep agreeing.

import { h, setAttr, setText, toast } from '../dom.js';
import { compact } from '../format.js';
import { speed as measuredSpeed } from '../progress.js';
import { FULL, SPEEDS, shiftSpeed, speedLabel, speedMessage, stopOf } from './speed-stops.js';

const KEY = 'layerlab.talk.speed.v1';

export class SpeedControl {
  /** app: the page (conn, runClient, charts); after: the element the row goes after. */
  constructor(app, after, { storage = window.sessionStorage } = {}) {
    this.app = app;
    this.storage = storage;
    this.speed = null; // what the page asks for; null = full speed
    this.touched = false; // never set in this tab: runs keep the server's default, nothing is sent
    this.sentFor = null; // the run id the current speed was last sent to
    this.range = h('input', { type: 'range', id: 'speed-input', name: 'speed', min: 0, max: FULL, step: 1,
      value: FULL, 'aria-label': 'Training speed', 'aria-valuetext': speedLabel(null) });
    this.value = h('output', { class: 'speed-value', for: 'speed-input', dataset: { speed: 'full' } }, speedLabel(null));
    this.measured = h('span', { class: 'speed-measured', 'aria-live': 'off' });
    this.row = h('div', { class: 'speed-row', role: 'group', 'aria-label': 'Training speed' },
      h('label', { class: 'ui-label', for: 'speed-input',
        title: 'Slow motion: steps per second (← slower, → faster)' }, 'Speed'),
      this.range, this.value, this.measured);
    this.range.addEventListener('input', () => this.show(SPEEDS[Number(this.range.value)]));
    this.range.addEventListener('change', () => this.set(SPEEDS[Number(this.range.value)]));
    after.after(this.row);
    this.restore();
  }

  restore() {
    try {
      const saved = JSON.parse(this.storage.getItem(KEY) || 'null');
      if (saved && 'speed' in saved) {
        this.speed = SPEEDS[stopOf(saved.speed)];
        this.touched = true;
        this.show(this.speed);
      }
    } catch { /* private mode: full speed */ }
  }

  /** Ask for a speed (null: full); a live run slows down or speeds up at once. */
  set(speed) {
    this.speed = speed ?? null;
    this.touched = true;
    try { this.storage.setItem(KEY, JSON.stringify({ speed: this.speed })); } catch { /* best effort */ }
    this.show(this.speed);
    this.sentFor = null;
    return this.sync();
  }

  /** One stop slower (-1) or faster (+1). */
  shift(delta) {
    const next = shiftSpeed(this.speed, delta);
    if (next === this.speed) {
      toast(delta < 0 ? 'Already at the slowest speed: 1 step a second' : 'Already at full speed', { timeout: 1800 });
      return Promise.resolve(false);
    }
    toast(`Speed: ${speedLabel(next)}`, { timeout: 1500 });
    return this.set(next);
  }

  show(speed) {
    const label = speedLabel(speed);
    this.range.value = String(stopOf(speed));
    setAttr(this.range, 'aria-valuetext', label);
    setText(this.value, label);
    setAttr(this.value, 'data-speed', speed === null ? 'full' : speed);
  }

  /**
   * Send the speed to the run this page controls, once per run (a new run gets it as soon as its
   * train ack arrives, while it is still queued, so slow motion holds from its first step).
   */
  async sync() {
    const run = this.app.runClient;
    if (!run?.controllable || !run.active || this.sentFor === run.runId) return false;
    const runId = run.runId;
    this.sentFor = runId;
    let ack;
    try {
      ack = await this.app.conn.request('set_hparams', speedMessage(runId, run.token, this.speed));
    } catch (err) {
      ack = { ok: false, message: err.message };
    }
    this.row.classList.toggle('is-invalid', !ack?.ok);
    if (!ack?.ok) {
      this.sentFor = null;
      toast(`Could not change the speed: ${ack?.message || 'the server refused'}`, { kind: 'error', timeout: 9000 });
      return false;
    }
    return true;
  }

  /** A run this page now follows (new, or picked up after a reload): it hears the page's speed. */
  newRun() {
    this.sentFor = this.touched ? null : this.app.runClient?.runId;
    return this.sync();
  }

  /** The server's word on a run's speed (a reloaded page learns what it set before). */
  adopt(status) {
    if (!status || !('speed' in status) || status.run_id !== this.app.runClient?.runId) return;
    const speed = status.speed > 0 ? status.speed : null;
    if (speed === this.speed) return;
    this.speed = speed;
    this.sentFor = status.run_id;
    this.show(speed);
  }

  /** The measured steps per second while a run trains (from the metric points). */
  renderMeasured() {
    const run = this.app.runClient;
    const sp = run?.status?.state === 'running' ? measuredSpeed(this.app.charts.table) : null;
    const rate = sp?.stepsPerSecond;
    setText(this.measured, rate > 0 ? `now ${rate < 10 ? rate.toFixed(1) : compact(rate)} steps/s` : '');
  }
}
