// The Environment tab of a dqn run: the episode being played (run_environment), drawn from its
// state at up to 30 frames a second as the environment's catalog entry says (`view`): the cart
// and its pole, the acrobot, the car on its hill, the lander, or a grid with each cell's best
// action and value. Under it the episode, its step, the last action and reward, the state's
// values by name, and the Q-value of each action as a bar (the greedy choice marked).

import { h, setAttr, setText } from '../dom.js';
import { metric } from '../format.js';
import { css, valueDomain, valueRgb } from './colour.js';
import { onScreen, sized, themeRgb } from './draw.js';
import { paintScene, palette } from './env-paint.js';
import { envSummary, frameText, pictureHeight, qBars, restingState, scene } from './scenes.js';

const MAX_WIDTH = 360;
const MAX_HEIGHT = 300; // a tall grid narrows instead
const FRAME_MS = 1000 / 30; // drawn at most this often, however fast frames arrive

export class EnvironmentView {
  /** environments: Map name -> GET /api/environments entry (the page's one catalog). */
  constructor(root, { environments = new Map() } = {}) {
    this.root = root;
    this.environments = environments;
    this.env = null; // the catalog entry drawn
    this.frame = null;
    this.frames = 0;
    this.drawn = 0;
    this.lastDraw = 0;
    this.title = h('h3', { class: 'ie-title' });
    this.mode = h('span', { class: 'ie-mode', hidden: true });
    this.canvas = h('canvas', { class: 'ie-canvas', 'aria-label': 'The environment the agent plays' });
    this.empty = h('p', { class: 'insight-empty ie-empty' }, 'Train to watch the agent play: each frame is a step of the episode it is learning from.');
    this.readout = h('p', { class: 'ie-readout', 'aria-live': 'off' });
    this.state = h('p', { class: 'ie-state' });
    this.qTitle = h('p', { class: 'ie-q-title', title: 'What the Q-network expects each action to be worth from this state: the greedy policy takes the largest' }, 'Q-values here');
    this.q = h('div', { class: 'ie-q', role: 'list' });
    this.legend = h('div', { class: 'ie-legend' });
    this.caption = h('p', { class: 'insight-caption' });
    root.append(h('div', { class: 'ie-head' }, this.title, this.mode), h('div', { class: 'ie-plot' }, this.canvas, this.empty),
      this.readout, this.state, this.qTitle, this.q, this.legend, this.caption);
  }

  /** A new run, or a design (envName: its training.environment.name): nothing played yet. */
  reset(envName = null) {
    this.frame = null;
    this.frames = 0;
    this.setEnvironment(envName);
  }

  /** The environment the design plays (its picture at rest until frames come). */
  setEnvironment(name) {
    const env = this.environments.get(name) || null;
    if (env === this.env && this.frame) return;
    this.env = env;
    this.qKey = null;
    this.mark();
    this.schedule();
  }

  /** The run_environment frame to show (live, or a checkpoint's), or null. */
  set(frame) {
    if (frame && frame !== this.frame) this.frames += 1;
    this.frame = frame || null;
    if (frame?.env && frame.env !== this.env?.name) {
      this.env = this.environments.get(frame.env) || this.env;
      this.qKey = null;
    }
    this.mark();
    this.schedule();
  }

  /** Draw soon, at most FRAME_MS after the last drawing, however many frames arrive before. */
  schedule() {
    if (this.pending) return;
    const wait = Math.max(0, this.lastDraw + FRAME_MS - performance.now());
    this.pending = setTimeout(() => requestAnimationFrame(() => {
      this.pending = null;
      this.draw();
    }), wait);
  }

  /** The DOM hooks and words, kept current whether or not the tab is shown. */
  mark() {
    const f = this.frame;
    const env = this.env;
    setAttr(this.canvas, 'data-env', env?.name || null);
    setAttr(this.canvas, 'data-view', env?.view || null);
    setAttr(this.canvas, 'data-step', f ? f.step : null);
    setAttr(this.canvas, 'data-episode', f ? f.episode : null);
    setAttr(this.canvas, 'data-t', f ? f.t : null);
    setAttr(this.canvas, 'data-action', f?.action ?? null);
    setAttr(this.canvas, 'data-frames', this.frames);
    setAttr(this.canvas, 'data-greedy', f ? String(Boolean(f.greedy)) : null);
    setText(this.title, env ? env.title : 'Environment');
    this.mode.hidden = !f;
    setText(this.mode, f?.greedy ? 'Greedy policy' : 'Training episode');
    setAttr(this.mode, 'title', f?.greedy ? 'The current Q-network playing its own copy of the environment without exploring (Watch greedy)'
      : 'The episode the agent learns from, exploring with ε-greedy actions');
    this.mode.classList.toggle('is-greedy', Boolean(f?.greedy));
    this.empty.hidden = Boolean(f);
    setText(this.readout, f ? frameText(f, env) : envSummary(env));
    setText(this.state, stateText(f, env));
    setText(this.caption, env?.doc || '');
    this.drawQ(f, env);
    this.drawLegend(f, env);
  }

  size() {
    const width = Math.max(200, Math.min(this.canvas.parentElement.clientWidth || MAX_WIDTH, MAX_WIDTH));
    const height = pictureHeight(this.env, width);
    return height <= MAX_HEIGHT ? [width, height] : [Math.round((width * MAX_HEIGHT) / height), MAX_HEIGHT];
  }

  draw() {
    if (!onScreen(this.canvas.parentElement)) return; // drawn when its tab is shown
    this.lastDraw = performance.now();
    const [w, hgt] = this.size();
    const ctx = sized(this.canvas, w, hgt);
    const env = this.env;
    const sc = env && scene(env, this.frame?.state || restingState(env), this.frame || {});
    if (sc) paintScene(ctx, sc, w, hgt, palette());
    this.canvas.classList.toggle('is-resting', !this.frame);
    this.drawn += 1;
    setAttr(this.canvas, 'data-drawn', this.drawn);
  }

  /** One bar per action: the Q-value on a scale holding zero; the greedy choice marked. */
  drawQ(f, env) {
    const bars = qBars(f?.q, env?.action_names);
    const key = bars.map((b) => b.name).join('|');
    this.qTitle.hidden = !bars.length;
    if (key !== this.qKey) { // the rows are built once per environment, then updated in place
      this.qKey = key;
      this.qRows = bars.map((b) => {
        const fill = h('span', { class: 'ie-q-fill' });
        const value = h('span', { class: 'ie-q-value' });
        const row = h('div', { class: 'ie-q-row', role: 'listitem', dataset: { action: b.action } },
          h('span', { class: 'ie-q-name' }, b.name), h('span', { class: 'ie-q-bar' }, fill), value);
        return { row, fill, value };
      });
      this.q.replaceChildren(...this.qRows.map((r) => r.row));
    }
    bars.forEach((b, i) => {
      const r = this.qRows[i];
      r.fill.style.left = `${(b.from * 100).toFixed(1)}%`;
      r.fill.style.width = `${Math.max(0.5, (b.to - b.from) * 100).toFixed(1)}%`;
      r.fill.classList.toggle('is-negative', b.value < 0);
      r.row.classList.toggle('is-best', b.best);
      setAttr(r.row, 'data-best', b.best ? 'true' : null);
      setText(r.value, Math.abs(b.value) < 1e-3 ? b.value.toFixed(3) : metric(b.value));
    });
  }

  /** A grid's value scale (the frame's own range) and what its arrows mean. */
  drawLegend(f, env) {
    const values = f?.values?.filter?.((v) => Number.isFinite(v)) || [];
    if (env?.view !== 'grid' || !values.length) {
      if (this.legendShown) this.legend.replaceChildren();
      this.legendShown = false;
      return;
    }
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    const panel = themeRgb('--panel', '#ffffff');
    const domain = valueDomain(lo, hi);
    const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => `${css(valueRgb(domain.lo + t * (domain.hi - domain.lo), domain, panel))} ${t * 100}%`);
    if (!this.legendShown) {
      this.bar = h('div', { class: 'ib-bar' });
      this.lo = h('span', {});
      this.hi = h('span', {});
      this.legend.replaceChildren(h('span', { class: 'ie-legend-title' }, 'Value of each cell (its largest Q); arrows: its best action'),
        this.bar, h('div', { class: 'ib-ticks' }, this.lo, this.hi));
      this.legendShown = true;
    }
    this.bar.style.background = `linear-gradient(90deg, ${stops.join(', ')})`;
    setText(this.lo, metric(domain.lo));
    setText(this.hi, metric(domain.hi));
  }
}

/** The state's values by the catalog's names ("cart position 0.02 · ..."), or a grid's cell. */
function stateText(f, env) {
  if (!f || !env) return '';
  if (env.view === 'grid') {
    const cell = Math.round(f.state?.[0] ?? 0);
    const cols = env.grid?.cols || 1;
    return `cell ${cell}: row ${Math.floor(cell / cols) + 1}, column ${(cell % cols) + 1}`;
  }
  const labels = env.observation?.labels || [];
  return (f.state || []).map((v, i) => `${labels[i] || `x${i}`} ${metric(v)}`).join(' · ');
}
