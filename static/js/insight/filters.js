// A deep belief net's layer while it pre-trains as an RBM (run_filters): each hidden unit's
// weights drawn as a small picture of the visible units it reads (8 x 8 for the digits' first
// layer, 28 x 28 for MNIST's), or, for a layer above the first, as one row of a heat map per
// unit. Blue is a positive weight, orange a negative one (the node pictures' scale), each unit on
// its own scale (its largest |weight|), so every unit's pattern shows however strong it is. Each
// layer's last frame is kept: a button per layer shows the features it ended with.

import { h, setAttr, setText } from '../dom.js';
import { metric } from '../format.js';
import { bytesOf, diverging, valueOf } from '../node-viz.js';
import { onScreen, paintPixels, sized, themeRgb } from './draw.js';
import { fitGrid } from './pictures.js';

const MAX_SIDE = 340;
const GAP = 3;

/** Unit `u` of a filters frame [units, H, W] as {h, w, values, scale} (scale: its largest |value|). Pure. */
export function filterOf(frame, u) {
  const [, fh, fw] = frame.shape;
  const bytes = bytesOf(frame.data);
  const values = new Float32Array(fh * fw);
  let scale = 0;
  for (let i = 0; i < fh * fw; i += 1) {
    values[i] = valueOf(frame, bytes[u * fh * fw + i] ?? 0);
    scale = Math.max(scale, Math.abs(values[i]));
  }
  return { h: fh, w: fw, values, scale: scale || 1 };
}

/** Does a frame hold strips (1 x N: a layer above the first), drawn as rows of one heat map? Pure. */
export function isStrip(frame) {
  return (frame?.shape?.[1] ?? 0) === 1;
}

/** RGBA pixels of one filter on the diverging scale, zero as the panel's colour. */
function filterPixels(filter, mid) {
  const px = new Uint8ClampedArray(filter.h * filter.w * 4);
  filter.values.forEach((v, i) => {
    const [r, g, b] = diverging(v, filter.scale, mid);
    px.set([r, g, b, 255], i * 4);
  });
  return px;
}

export class FiltersView {
  /** errorAt(layer, step) -> {value, step} | null: the layer's reconstruction error by then;
   * layerNow() -> the layer pre-training now (null once fine-tuning began). */
  constructor(root, { errorAt = () => null, layerNow = () => null } = {}) {
    this.errorAt = errorAt;
    this.layerNow = layerNow;
    this.msg = null;
    this.frame = null;
    this.frames = 0;
    this.byLayer = new Map(); // layer -> its newest live frame (this run's)
    this.pinned = null; // the layer picked with its button (null: the newest frame's)
    this.layers = h('div', { class: 'insight-segs if-layers', role: 'group', 'aria-label': 'Pre-trained layers' });
    this.title = h('p', { class: 'if-title' });
    this.canvas = h('canvas', { class: 'if-canvas', 'aria-label': 'Hidden units\' weights of the layer being pre-trained' });
    this.empty = h('p', { class: 'insight-empty' }, 'Each hidden unit\'s weights show up here while its layer pre-trains.');
    this.readout = h('p', { class: 'ib-readout' });
    this.legend = h('div', { class: 'if-legend' },
      h('span', { class: 'if-key if-key-neg' }), 'negative', h('span', { class: 'if-key if-key-pos' }), 'positive weight',
      h('span', { class: 'if-scale' }, '(each unit on its own scale)'));
    this.caption = h('p', { class: 'insight-caption' });
    root.append(h('div', { class: 'if-head' }, this.title, this.layers),
      h('div', { class: 'ib-plot' }, this.canvas, this.empty), this.readout, this.legend, this.caption);
    this.canvas.addEventListener('pointermove', (e) => this.hover(e));
    this.canvas.addEventListener('pointerleave', () => setText(this.readout, ''));
  }

  /** A run_filters frame ({layer, units, step, frame}); past: a checkpoint's, not live. */
  set(msg, { past = false } = {}) {
    if (msg && !past && this.byLayer.get(msg.layer) !== msg) { // back to live shows it again: not a new one
      this.frames += 1;
      this.byLayer.delete(msg.layer); // kept in the order the layers last sent
      this.byLayer.set(msg.layer, msg);
    }
    this.past = past;
    this.showLayer(past ? msg : this.pinned ? this.byLayer.get(this.pinned) : msg);
  }

  showLayer(msg) {
    this.msg = msg || null;
    this.frame = msg?.frame || null;
    this.drawButtons();
    this.draw();
  }

  /** One button per layer seen: its last frame (the newest layer's follows the run). */
  drawButtons() {
    const layers = [...this.byLayer.keys()];
    this.layers.hidden = layers.length < 2;
    const key = JSON.stringify([layers, this.msg?.layer]);
    if (key === this.buttonsKey) return;
    this.buttonsKey = key;
    this.layers.replaceChildren(...layers.map((layer) => {
      const b = h('button', { type: 'button', class: 'insight-seg', dataset: { layer }, 'aria-pressed': String(layer === this.msg?.layer),
        title: `Layer ${layer}'s hidden units as they were last seen` }, layer);
      b.addEventListener('click', () => {
        this.pinned = layer === layers[layers.length - 1] ? null : layer;
        this.past = false;
        this.showLayer(this.byLayer.get(layer));
      });
      return b;
    }));
  }

  reset() {
    this.frames = 0;
    this.byLayer.clear();
    this.pinned = null;
    this.set(null);
  }

  size() {
    return Math.max(160, Math.min(this.canvas.parentElement.clientWidth || MAX_SIDE, MAX_SIDE));
  }

  draw() {
    const f = this.frame;
    const m = this.msg;
    this.empty.hidden = Boolean(f);
    this.legend.hidden = !f;
    setAttr(this.canvas, 'data-layer', m?.layer ?? null);
    setAttr(this.canvas, 'data-units', f ? f.shape[0] : null);
    setAttr(this.canvas, 'data-tile', f ? `${f.shape[1]}x${f.shape[2]}` : null);
    setAttr(this.canvas, 'data-step', m?.step ?? null);
    setAttr(this.canvas, 'data-frames', this.frames);
    setText(this.title, m ? this.titleText() : '');
    setText(this.caption, m ? this.captionText() : '');
    if (!onScreen(this.canvas.parentElement)) return; // drawn when its tab is shown
    const side = this.size();
    if (!f) {
      sized(this.canvas, side, Math.round(side / 2));
      return;
    }
    const mid = themeRgb('--panel', '#ffffff');
    const units = f.shape[0];
    if (isStrip(f)) {
      // One row per unit, its visible units across: a heat map as tall as it needs.
      const rowH = Math.max(3, Math.min(8, Math.floor(side / units)));
      const ctx = sized(this.canvas, side, rowH * units);
      for (let u = 0; u < units; u += 1) {
        const filter = filterOf(f, u);
        paintPixels(ctx, filterPixels(filter, mid), filter.w, 1, 0, u * rowH, side, rowH - (rowH > 4 ? 1 : 0));
      }
      this.layout = { strip: true, rowH, units };
      return;
    }
    const grid = fitGrid(units, side, side, { gap: GAP, max: 72 });
    const width = grid.cols * grid.tile + (grid.cols - 1) * GAP;
    const ctx = sized(this.canvas, width, grid.rows * grid.tile + (grid.rows - 1) * GAP);
    for (let u = 0; u < units; u += 1) {
      const filter = filterOf(f, u);
      const x = (u % grid.cols) * (grid.tile + GAP);
      const y = Math.floor(u / grid.cols) * (grid.tile + GAP);
      paintPixels(ctx, filterPixels(filter, mid), filter.w, filter.h, x, y, grid.tile, grid.tile);
    }
    this.layout = { ...grid, units };
  }

  titleText() {
    const { layer, units, frame } = this.msg;
    const shown = frame.shape[0];
    return `Layer ${layer}: ${shown < units ? `${shown} of ${units}` : units} hidden units`;
  }

  captionText() {
    const { layer, step, frame } = this.msg;
    const error = this.errorAt(layer, step);
    const what = isStrip(frame) ? `Each row is one hidden unit's weights from the ${frame.shape[2]} units of the layer below`
      : `Each picture is one hidden unit's weights over its ${frame.shape[1]} × ${frame.shape[2]} input`;
    const at = step != null ? `Step ${step.toLocaleString('en-US')}${this.past ? ' (timeline)' : ''}: ` : '';
    const now = this.past || this.layerNow() === layer
      ? `${layer} pre-trains as a restricted Boltzmann machine` : `${layer} was pre-trained as a restricted Boltzmann machine`;
    return `${at}${now}. ${what}: the feature it learns to detect.${error ? ` Reconstruction error ${metric(error.value)}.` : ''}`;
  }

  /** The unit under the pointer, with its weights' range. */
  hover(e) {
    const f = this.frame;
    const l = this.layout;
    if (!f || !l) return;
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    const u = l.strip ? Math.floor(y / l.rowH)
      : Math.floor(y / (l.tile + GAP)) * l.cols + Math.floor(x / (l.tile + GAP));
    if (!(u >= 0 && u < l.units)) {
      setText(this.readout, '');
      return;
    }
    const { values } = filterOf(f, u);
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    setText(this.readout, `Unit #${u} of ${this.msg.layer}: weights ${metric(lo)} to ${metric(hi)}`);
  }
}
