// The run's timeline: a scrubber over its checkpoints (`timeline`, `seek`). Dragging shows the
// pictures and metrics as they were at that checkpoint; letting go of a training run, or "Live",
// returns to live. An ended run stays where it was left (it has nothing newer to return to).

import { h, setAttr, setText } from '../dom.js';
import { cssVar } from './draw.js';
import { Seeker, checkpointIndex, checkpointText } from './seeker.js';

const POLL_MS = 2500; // how often a training run's new checkpoints are fetched while shown

export class TimelineBar {
  /** request(event, payload) -> Promise of the ack; onSeek(ack or null for live). */
  constructor(root, { request, onSeek = () => {}, onError = () => {} }) {
    this.request = request;
    this.onSeek = onSeek;
    this.runId = null;
    this.checkpoints = [];
    this.index = null; // null: live
    this.active = false;
    this.running = false;
    this.visible = false;
    this.seeker = new Seeker((step) => request('seek', { run_id: this.runId, step }), {
      onAnswer: (ack) => { if (this.index !== null) this.onSeek(ack); },
      onError: (err) => onError(err),
    });
    this.live = h('button', { type: 'button', class: 'it-live', 'aria-pressed': 'true', title: 'Back to the newest pictures' },
      h('i', { 'aria-hidden': 'true' }), 'Live');
    this.range = h('input', { type: 'range', name: 'timeline', min: '0', max: '0', step: '1', value: '0',
      'aria-label': 'Timeline: the run at an earlier checkpoint', disabled: true });
    this.label = h('span', { class: 'it-label' });
    this.hint = h('p', { class: 'it-hint' });
    root.append(h('div', { class: 'it-row' }, this.live, this.range), h('div', { class: 'it-text' }, this.label, this.hint));
    this.root = root;
    this.live.addEventListener('click', () => this.goLive());
    this.range.addEventListener('input', () => this.seekTo(Number(this.range.value)));
    this.range.addEventListener('pointerdown', () => { this.dragging = true; });
    this.range.addEventListener('pointerup', () => {
      this.dragging = false;
      if (this.running) this.goLive(); // a training run springs back to live
    });
    this.range.addEventListener('keydown', (e) => { if (e.key === 'Escape') this.goLive(); });
    this.render();
  }

  setRun(runId) {
    this.runId = runId;
    this.liveStep = null;
    this.checkpoints = [];
    this.seeker.reset();
    if (this.index !== null) this.goLive();
    this.render();
    if (runId) this.refresh();
  }

  /** run_status: poll for new checkpoints while it trains; fetch the last ones when it ends. */
  setStatus(status, { active, ended }) {
    this.running = status?.state === 'running';
    const wasActive = this.active;
    this.active = active;
    if (wasActive && ended) this.refresh();
    this.poll();
    this.render();
  }

  setVisible(visible) {
    this.visible = visible;
    if (visible) this.refresh();
    this.poll();
  }

  poll() {
    const want = this.visible && this.active && this.runId;
    if (want && !this.timer) this.timer = setInterval(() => this.refresh(), POLL_MS);
    if (!want && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  async refresh() {
    const runId = this.runId;
    if (!runId) return;
    try {
      const ack = await this.request('timeline', { run_id: runId });
      if (runId !== this.runId || !ack?.ok) return;
      const shown = this.index !== null ? this.checkpoints[this.index]?.step : null;
      this.checkpoints = ack.checkpoints || [];
      // A full timeline drops every other checkpoint: stay on the step shown, not the index.
      if (shown != null) this.index = checkpointIndex(this.checkpoints, shown);
      this.render();
    } catch { /* offline for a moment: the next poll tries again */ }
  }

  /** The step of the newest live picture (the label says where "live" is). */
  setLiveStep(step) {
    if (typeof step !== 'number' || step === this.liveStep) return;
    this.liveStep = step;
    if (this.index === null) this.render();
  }

  get seeking() {
    return this.index !== null;
  }

  seekTo(index) {
    const cp = this.checkpoints[index];
    if (!cp) return;
    this.index = index;
    this.seeker.want(cp.step);
    this.render();
  }

  goLive() {
    const was = this.index !== null;
    this.index = null;
    this.seeker.cancel();
    this.render();
    if (was) this.onSeek(null);
  }

  render() {
    const n = this.checkpoints.length;
    this.range.disabled = n < 2;
    this.range.max = String(Math.max(0, n - 1));
    if (!this.dragging) this.range.value = String(this.index ?? Math.max(0, n - 1));
    const cp = this.index !== null ? this.checkpoints[this.index] : null;
    setAttr(this.live, 'aria-pressed', cp ? 'false' : 'true');
    this.live.classList.toggle('is-running', this.running);
    setText(this.live.lastChild, this.active || !this.runId ? 'Live' : 'Latest');
    setAttr(this.root, 'data-step', cp ? cp.step : 'live');
    setAttr(this.root, 'data-checkpoints', n);
    this.root.classList.toggle('is-seeking', Boolean(cp));
    const newest = this.liveStep ?? this.checkpoints[n - 1]?.step;
    if (cp) setText(this.label, checkpointText(cp).replace(' · ', ` of ${(newest ?? cp.step).toLocaleString('en-US')} · `));
    else setText(this.label, typeof newest === 'number' ? `${this.active ? 'Live' : 'End'} · step ${newest.toLocaleString('en-US')}` : '');
    setText(this.hint, !this.runId ? 'Train to record a timeline to scrub through'
      : n < 2 ? 'the timeline fills as the run trains'
        : this.running ? 'let go for live' : 'drag to replay');
  }
}

/** The timeline's marker on the run's charts: a line at `step`, the later part veiled. */
export function stepMarker(step) {
  return (u) => {
    const x = Math.round(u.valToPos(step, 'x', true));
    const { top, height, left, width } = u.bbox;
    if (x < left - 1 || x > left + width + 1) return;
    const { ctx } = u;
    const dpr = window.devicePixelRatio || 1;
    ctx.save();
    ctx.globalAlpha = 0.6;
    ctx.fillStyle = cssVar('--panel', '#fff');
    ctx.fillRect(x, top, left + width - x, height);
    ctx.globalAlpha = 1;
    ctx.strokeStyle = cssVar('--accent', '#2457e6');
    ctx.lineWidth = 2 * dpr;
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
    ctx.font = `700 ${11 * dpr}px Inter, system-ui, sans-serif`;
    ctx.fillStyle = ctx.strokeStyle;
    const text = `step ${step.toLocaleString('en-US')}`;
    const w = ctx.measureText(text).width;
    ctx.fillText(text, x + 5 * dpr + w > left + width ? x - w - 5 * dpr : x + 5 * dpr, top + 12 * dpr);
    ctx.restore();
  };
}
