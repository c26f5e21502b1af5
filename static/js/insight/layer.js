// One layer enlarged: what its units compute (unit pictures over the input plane, with the
// followed sample marked and its value in each unit; feature maps, a hidden state over time, or
// unit values of that sample), its weights (edges, a matrix or a histogram), and under them the
// sample being followed (followed.js).

import { h, setAttr, setText } from '../dom.js';
import { metric } from '../format.js';
import { classRgb, css } from './colour.js';
import { cssVar, divergingColour, label, onScreen, paintDot, paintValues, sampleThumb, sized, themeRgb } from './draw.js';
import { FollowedSample } from './followed.js';
import { drawsAsEdges, edgesOf, fitGrid, frameScale, histogramBars, kindText, layoutKind, matrixOf, planeXY, robustScale,
  rowsOf, sampleCount, sampleTarget, sampleText, tileOf, valuesOf } from './pictures.js';

const GAP = 4;

export class LayerView {
  /** describe(id) -> {type, group, shape}; onPick(index) follows a sample; onNode(id) picks a layer. */
  constructor(root, { describe, onPick = () => {}, onNode = () => {} }) {
    this.describe = describe;
    this.onPick = onPick;
    this.nodeId = null;
    this.frames = null; // run_activations nodes
    this.weights = null; // run_weights nodes
    this.samples = null; // the fixed validation samples (a sampleSet)
    this.predictions = null;
    this.classes = null;
    this.selected = 0;
    this.canPick = false;
    this.pickNote = '';
    this.picker = h('select', { name: 'insight_layer', 'aria-label': 'Layer to enlarge' });
    this.picker.addEventListener('change', () => onNode(this.picker.value));
    this.perUnit = h('input', { type: 'checkbox', name: 'per_unit_scale', checked: true });
    this.perUnit.addEventListener('change', () => this.draw());
    this.perUnitLabel = h('label', { class: 'insight-check', title: 'Scale each unit to its own range (unchecked: one scale for the whole layer, as in the node)' },
      this.perUnit, 'Per unit');
    this.meta = h('span', { class: 'il-meta' });
    this.caption = h('p', { class: 'insight-caption il-kind' });
    this.thumb = h('span', { class: 'il-thumb' }); // the sample the pictures are of
    this.canvas = h('canvas', { class: 'il-canvas', 'aria-label': 'Layer activations' });
    this.scale = h('div', { class: 'il-scale' });
    this.readout = h('p', { class: 'ib-readout' });
    this.valuesCanvas = h('canvas', { class: 'il-values', 'aria-label': 'The followed sample in each unit' });
    this.valuesCaption = h('p', { class: 'insight-caption' });
    this.values = h('div', { class: 'il-block il-values-block', hidden: true }, this.valuesCaption, this.valuesCanvas);
    this.weightsTitle = h('h3', { class: 'insight-h' }, 'Weights');
    this.weightsCanvas = h('canvas', { class: 'il-weights' });
    this.weightsCaption = h('p', { class: 'insight-caption' });
    this.weightsBlock = h('div', { class: 'il-block', hidden: true }, this.weightsTitle, this.weightsCanvas, this.weightsCaption);
    this.sampleBlock = h('div', { class: 'il-block', hidden: true });
    this.followedView = new FollowedSample(this.sampleBlock, { onPick: (i) => { if (this.canPick) this.onPick(i); } });
    this.empty = h('p', { class: 'insight-empty' }, 'Train, then click the picture inside a layer to enlarge it here.');
    this.body = h('div', { class: 'il-main' }, h('div', { class: 'il-caption' }, this.thumb, this.caption), this.canvas, this.scale,
      this.readout, this.values);
    root.append(h('div', { class: 'insight-toolbar il-head' }, this.picker, this.meta, this.perUnitLabel), this.empty, this.body,
      this.weightsBlock, this.sampleBlock);
    this.canvas.addEventListener('pointermove', (e) => this.hover(e));
    this.canvas.addEventListener('pointerleave', () => setText(this.readout, ''));
  }

  setNode(id) {
    this.nodeId = id;
    this.draw();
  }

  setActivations(msg) {
    this.frames = msg?.nodes || null;
    this.step = msg?.step;
    if (!this.nodeId || !this.frames?.[this.nodeId]) this.nodeId = this.defaultNode();
    this.draw();
  }

  setWeights(msg) {
    this.weights = msg?.nodes || null;
    this.drawWeights();
  }

  setSamples(set) {
    this.samples = set && set.count ? set : null;
    this.draw();
  }

  setResults(msg) {
    this.predictions = msg?.predictions || null;
    this.classes = msg?.classes || this.classes;
    this.drawSamples();
  }

  setSelection(index, canPick, note) {
    const moved = index !== this.selected;
    this.selected = index;
    this.canPick = canPick;
    this.pickNote = note;
    if (moved) this.draw(); // the plane pictures mark the followed sample
    else this.drawSamples();
  }

  /** Is a fixed sample followed, and known to this page? */
  followed() {
    return Boolean(this.samples && this.selected != null && this.selected < this.samples.count);
  }

  /** The first layer after the input with a picture. */
  defaultNode() {
    const ids = Object.keys(this.frames || {});
    return ids.find((id) => !this.describe(id).source) || ids[0] || null; // not an Input (nor a gan's Noise)
  }

  width() {
    return Math.max(200, (this.body.clientWidth || 360));
  }

  draw() {
    if (!onScreen(this.picker.parentElement)) return; // drawn when its tab is shown
    const frame = this.frames?.[this.nodeId];
    this.fillPicker();
    this.empty.hidden = Boolean(frame);
    this.body.hidden = !frame;
    if (!frame) {
      this.weightsBlock.hidden = true;
      this.sampleBlock.hidden = true;
      return;
    }
    const info = this.describe(this.nodeId);
    setText(this.meta, info.shape);
    const scores = info.sink && this.classes?.length === frame.units && frame.kind === 'units';
    const followed = this.followed();
    const what = followed ? sampleText(this.samples, this.selected, this.classes) : '';
    const which = `#${this.selected}${what ? ` · ${what}` : ''}`;
    const about = !followed ? '' : frame.kind === 'plane' && this.samples.kind === 'points' ? `; the dot is sample ${which}` : `: ${which}`;
    setText(this.caption, scores ? `Scores (logits) of the ${frame.units} classes for one sample${about}. The highest is the prediction.`
      : `${kindText(frame, info.plane)}${about}. Orange is negative, blue positive.`);
    const thumbKey = followed ? [this.samples, this.selected] : null;
    if (thumbKey?.[0] !== this.thumbKey?.[0] || thumbKey?.[1] !== this.thumbKey?.[1]) {
      this.thumbKey = thumbKey;
      this.thumb.replaceChildren(...(followed ? [sampleThumb(this.samples, this.selected, 40)] : []));
      setAttr(this.thumb, 'title', followed ? `Sample #${this.selected}: ${sampleText(this.samples, this.selected, this.classes)}` : null);
    }
    this.thumb.hidden = !followed;
    const kind = layoutKind(frame);
    setAttr(this.canvas, 'data-kind', frame.kind);
    setAttr(this.canvas, 'data-node', this.nodeId);
    setAttr(this.canvas, 'data-step', this.step ?? '');
    setAttr(this.canvas, 'data-sample', followed ? this.selected : null);
    const scale = frameScale(frame);
    this.layout = kind === 'tiles' ? this.drawTiles(frame, scale) : kind === 'rows' ? this.drawRows(frame, scale)
      : this.drawBars(frame, scale);
    setAttr(this.canvas, 'data-tiles', this.layout.n);
    this.perUnitLabel.hidden = kind !== 'tiles';
    const own = kind === 'tiles' && this.perUnit.checked;
    this.scale.replaceChildren(h('span', {}, own ? '−' : metric(-scale)), h('i', { class: 'il-scale-bar' }),
      h('span', {}, own ? '+ (each unit to its own range)' : metric(scale)));
    this.drawValues(frame);
    this.drawWeights();
    this.drawSamples();
  }

  drawTiles(frame, scale) {
    const n = frame.shape[0];
    const w = this.width();
    const grid = fitGrid(n, w, frame.kind === 'plane' ? 320 : 300, { gap: GAP, max: n <= 4 ? 160 : 112 });
    const height = grid.rows * grid.tile + (grid.rows - 1) * GAP;
    const ctx = sized(this.canvas, w, height);
    const mid = themeRgb('--node-bg');
    const shared = divergingColour(scale, mid);
    const x0 = Math.floor((w - (grid.cols * grid.tile + (grid.cols - 1) * GAP)) / 2);
    const mark = this.planeMark(frame);
    for (let t = 0; t < n; t += 1) {
      const { h: th, w: tw, values } = tileOf(frame, t);
      const colour = this.perUnit.checked ? divergingColour(maxAbs(values), mid) : shared;
      const x = x0 + (t % grid.cols) * (grid.tile + GAP);
      const y = Math.floor(t / grid.cols) * (grid.tile + GAP);
      paintValues(ctx, { h: th, w: tw, at: (r, c) => values[r * tw + c] }, colour, x, y, grid.tile, grid.tile, frame.kind === 'plane');
      ctx.strokeStyle = cssVar('--border', '#ddd');
      ctx.lineWidth = 1;
      ctx.strokeRect(x + 0.5, y + 0.5, grid.tile - 1, grid.tile - 1);
      if (mark) {
        const [mx, my] = planeXY(mark.point, mark.extent, grid.tile, grid.tile);
        paintDot(ctx, x + mx, y + my, mark.fill, grid.tile >= 60 ? 3.5 : 2.6);
      }
    }
    return { kind: 'tiles', n, grid, x0 };
  }

  /** On pictures over the input plane: where the followed sample lies, and its colour. */
  planeMark(frame) {
    if (frame.kind !== 'plane' || !this.followed() || this.samples.kind !== 'points') return null;
    const t = sampleTarget(this.samples, this.selected);
    return { point: this.samples.points[this.selected], extent: this.samples.extent || [-1, 1, -1, 1],
      fill: css(this.samples.labels && t != null ? classRgb(t) : themeRgb('--panel')) };
  }

  /** Under pictures over the plane: the followed sample's own value in each unit. */
  drawValues(frame) {
    const values = frame.kind === 'plane' && this.followed() ? frame.sample : null;
    this.values.hidden = !values?.length;
    if (this.values.hidden) return;
    const w = this.width();
    const height = 54;
    const ctx = sized(this.valuesCanvas, w, height);
    const top = Math.max(...values.map(Math.abs)) || 1; // the sample's own range, so its bars read
    const mid = height / 2;
    const bw = w / values.length;
    const colour = divergingColour(top);
    midline(ctx, w, mid);
    values.forEach((v, i) => {
      const len = (v / top) * (mid - 3);
      ctx.fillStyle = css(colour(v * 0.6 + Math.sign(v) * top * 0.4));
      ctx.fillRect(i * bw + (bw > 4 ? 1 : 0), Math.min(mid, mid - len), Math.max(1, bw - (bw > 4 ? 2 : 0)), Math.max(1, Math.abs(len)));
    });
    const shown = values.length < (frame.units ?? values.length) ? `the first ${values.length} of ${frame.units} units` : `each of the ${values.length} units`;
    setText(this.valuesCaption, `Sample #${this.selected}'s value in ${shown} (at the dot on each picture): ±${metric(top)}`);
  }

  drawRows(frame, scale) {
    const { rows, cols, at } = rowsOf(frame);
    const w = this.width();
    const left = 26;
    const cell = Math.max(1, Math.min(14, 240 / rows));
    const height = Math.round(rows * cell) + 18;
    const ctx = sized(this.canvas, w, height);
    paintValues(ctx, { h: rows, w: cols, at }, divergingColour(scale), left, 0, w - left, rows * cell, false);
    label(ctx, frame.kind === 'sequence' ? 'unit' : 'ch', 0, 8, { size: 10 });
    label(ctx, 'time →', w, height - 7, { size: 10.5, align: 'right' });
    label(ctx, '1', left, height - 7, { size: 10.5 });
    return { kind: 'rows', n: rows, rows, cols, left, cell };
  }

  drawBars(frame, scale) {
    const values = valuesOf(frame);
    const n = values.length;
    const w = this.width();
    const names = this.classes && this.classes.length === n && this.describe(this.nodeId).sink ? this.classes : null;
    const height = 170;
    const ctx = sized(this.canvas, w, height);
    const base = names ? height - 20 : height - 6;
    const top = 8;
    const mid = (top + base) / 2;
    const bw = w / n;
    const colour = divergingColour(scale);
    midline(ctx, w, mid);
    values.forEach((v, i) => {
      const len = (v / scale) * (mid - top);
      ctx.fillStyle = css(colour(v * 0.6 + Math.sign(v) * scale * 0.4));
      ctx.fillRect(i * bw + (bw > 4 ? 1 : 0), Math.min(mid, mid - len), Math.max(1, bw - (bw > 4 ? 2 : 0)), Math.max(1, Math.abs(len)));
      if (names && bw >= 14) label(ctx, names[i], i * bw + bw / 2, height - 9, { align: 'center', size: 11 });
    });
    return { kind: 'bars', n, bw, values, names };
  }

  drawWeights() {
    if (!onScreen(this.picker.parentElement)) return;
    const wf = this.weights?.[this.nodeId];
    this.weightsBlock.hidden = !wf || !this.frames?.[this.nodeId];
    if (this.weightsBlock.hidden) return;
    const w = this.width();
    if (wf.kind === 'histogram') {
      const { bars, top } = histogramBars(wf);
      const height = 84;
      const ctx = sized(this.weightsCanvas, w, height);
      const span = (wf.max - wf.min) || 1;
      ctx.fillStyle = cssVar('--g-core', '#3b82f6');
      for (const b of bars) {
        const bh = (b.count / top) * (height - 20);
        ctx.fillRect(((b.x0 - wf.min) / span) * w + 0.5, height - 16 - bh, Math.max(1, (w / bars.length) - 1.5), bh);
      }
      if (wf.min < 0 && wf.max > 0) {
        const zx = ((0 - wf.min) / span) * w;
        ctx.fillStyle = cssVar('--text', '#111');
        ctx.fillRect(zx, 0, 1, height - 16);
        label(ctx, '0', zx, height - 7, { align: 'center', size: 10.5 });
      }
      label(ctx, metric(wf.min), 0, height - 7, { size: 10.5 });
      label(ctx, metric(wf.max), w, height - 7, { size: 10.5, align: 'right' });
      setText(this.weightsCaption, `Histogram of ${wf.counts.reduce((a, b) => a + b, 0).toLocaleString('en-US')} weights`);
      return;
    }
    const scale = robustScale(wf);
    if (drawsAsEdges(wf)) this.drawEdges(wf, scale, w);
    else {
      const m = matrixOf(wf);
      const cell = Math.max(1, Math.min(14, w / m.cols, 200 / m.rows));
      const ctx = sized(this.weightsCanvas, w, Math.ceil(m.rows * cell));
      paintValues(ctx, { h: m.rows, w: m.cols, at: m.at }, divergingColour(scale), (w - m.cols * cell) / 2, 0, m.cols * cell, m.rows * cell);
      setText(this.weightsCaption, `Weight matrix: ${m.rows} ${m.rowLabel} (rows) × ${m.cols} ${m.colLabel} · ±${metric(scale)}`);
    }
  }

  drawEdges(wf, scale, w) {
    const [out, inp] = wf.shape;
    const height = 118;
    const ctx = sized(this.weightsCanvas, w, height);
    const xs = (count, i) => w / 2 + (i - (count - 1) / 2) * Math.min(64, (w - 28) / Math.max(1, count - 1));
    const yIn = 12;
    const yOut = height - 12;
    const colour = divergingColour(scale);
    for (const e of edgesOf(wf)) {
      const a = Math.min(1, Math.abs(e.value) / scale);
      ctx.strokeStyle = css(colour(Math.sign(e.value) * scale), 0.25 + 0.75 * a);
      ctx.lineWidth = 0.4 + 3.6 * a;
      ctx.beginPath();
      ctx.moveTo(xs(inp, e.from), yIn);
      ctx.bezierCurveTo(xs(inp, e.from), height / 2, xs(out, e.to), height / 2, xs(out, e.to), yOut);
      ctx.stroke();
    }
    ctx.fillStyle = cssVar('--text', '#111');
    for (let i = 0; i < inp; i += 1) { ctx.beginPath(); ctx.arc(xs(inp, i), yIn, 3.2, 0, Math.PI * 2); ctx.fill(); }
    for (let o = 0; o < out; o += 1) { ctx.beginPath(); ctx.arc(xs(out, o), yOut, 3.2, 0, Math.PI * 2); ctx.fill(); }
    setText(this.weightsCaption, `${inp} inputs (top) to ${out} units (bottom): colour is the sign, thickness the size (±${metric(scale)})`);
  }

  drawSamples() {
    if (!onScreen(this.picker.parentElement)) return;
    const frame = this.frames?.[this.nodeId];
    this.sampleBlock.hidden = !frame || !sampleCount(this.samples);
    if (this.sampleBlock.hidden) return;
    this.followedView.draw({ set: this.samples, selected: this.followed() ? this.selected : null,
      predictions: this.predictions, classes: this.classes, canPick: this.canPick, note: this.pickNote, width: this.width() });
  }

  fillPicker() {
    const ids = Object.keys(this.frames || {});
    const key = ids.join('|');
    if (this.pickerKey !== key) {
      this.pickerKey = key;
      this.picker.replaceChildren(...ids.map((id) => h('option', { value: id }, `${id} · ${this.describe(id).type}`)));
    }
    this.picker.hidden = !ids.length;
    if (this.nodeId) this.picker.value = this.nodeId;
  }

  hover(e) {
    const frame = this.frames?.[this.nodeId];
    const L = this.layout;
    if (!frame || !L) return;
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    let text = '';
    if (L.kind === 'tiles') {
      const col = Math.floor((x - L.x0) / (L.grid.tile + GAP));
      const row = Math.floor(y / (L.grid.tile + GAP));
      const t = row * L.grid.cols + col;
      const at = frame.kind === 'plane' && this.followed() && frame.sample?.[t] != null
        ? ` · sample #${this.selected} gives ${metric(frame.sample[t])}` : '';
      if (col >= 0 && col < L.grid.cols && t < L.n) text = `${frame.kind === 'plane' ? 'unit' : 'map'} ${t} of ${frame.units ?? L.n}${at}`;
    } else if (L.kind === 'rows') {
      const row = Math.floor(y / L.cell);
      const step = Math.floor(((x - L.left) / (this.width() - L.left)) * L.cols);
      if (row >= 0 && row < L.rows && step >= 0) text = `${frame.kind === 'sequence' ? 'unit' : 'channel'} ${row}, time ${step + 1}: ${metric(rowsOf(frame).at(row, step))}`;
    } else {
      const i = Math.floor(x / L.bw);
      if (i >= 0 && i < L.n) text = `${L.names ? `class ${L.names[i]}` : `unit ${i}`}: ${metric(L.values[i])}`;
    }
    setText(this.readout, text);
  }
}

function maxAbs(values) {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m || 1;
}

/** The zero line across a bar chart. */
function midline(ctx, w, mid) {
  ctx.strokeStyle = cssVar('--border-strong', '#aaa');
  ctx.beginPath();
  ctx.moveTo(0, mid + 0.5);
  ctx.lineTo(w, mid + 0.5);
  ctx.stroke();
}
