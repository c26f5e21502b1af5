// The decision boundary enlarged: the model's output over the input plane under the training
// points and the fixed validation samples, a "discretize" toggle (TensorFlow Playground's), a
// colour legend, the value under the pointer, and a click on a sample to follow it. While the
// random forest's boundary is on (the baseline's "Show forest boundary"), it is drawn instead.

import { h, setAttr, setText } from '../dom.js';
import { metric } from '../format.js';
import { boundaryPixels, boundaryValueAt, classRgb, css, gradientCss, legendStops, valueDomain, valueRgb } from './colour.js';
import { cssVar, onScreen, planeAxes, paintPixels, sized, themeRgb } from './draw.js';
import { planeXY, sampleTarget, sampleText } from './pictures.js';

const PICK_RADIUS = 14; // pixels around a sample that still pick it

export class BoundaryView {
  constructor(root, { onPick = () => {} } = {}) {
    this.onPick = onPick;
    this.net = null; // the network's run_boundary frame
    this.forest = null; // the baseline's boundary, shown in its place while set
    this.train = null; // {x: [[x, y]], y: [target], task}
    this.samples = null; // the fixed validation samples (a sampleSet of kind points), drawn as rings
    this.selected = null;
    this.canPick = false;
    this.classes = ['0', '1'];
    this.options = { discretize: false, train: true, validation: true };
    const check = (name, text, title) => {
      const input = h('input', { type: 'checkbox', name, checked: this.options[name] });
      input.addEventListener('change', () => { this.options[name] = input.checked; this.draw(); });
      return h('label', { class: 'insight-check', title }, input, text);
    };
    this.validationToggle = check('validation', 'Validation', 'The fixed validation samples (rings); click one to follow it through the network');
    this.canvas = h('canvas', { class: 'ib-canvas', 'aria-label': 'Decision boundary' });
    this.readout = h('p', { class: 'ib-readout' });
    this.legend = h('div', { class: 'ib-legend' });
    this.empty = h('p', { class: 'insight-empty' }, 'Train to see the decision boundary form over the data.');
    this.caption = h('p', { class: 'insight-caption' });
    root.append(
      h('div', { class: 'insight-toolbar' },
        check('discretize', 'Discretize', 'Show the predicted class only, without shades of confidence'),
        check('train', 'Training', 'The training points'), this.validationToggle),
      h('div', { class: 'ib-plot' }, this.canvas, this.empty), this.readout, this.legend, this.caption);
    this.pointer = null; // the pointer over the plot: the readout follows it as frames arrive
    this.canvas.addEventListener('pointermove', (e) => {
      this.pointer = { clientX: e.clientX, clientY: e.clientY };
      this.hover(this.pointer);
    });
    this.canvas.addEventListener('pointerleave', () => {
      this.pointer = null;
      setText(this.readout, this.idleText());
    });
    this.canvas.addEventListener('click', (e) => this.click(e));
  }

  set(frame) {
    this.net = frame || null;
    this.draw();
  }

  /** The random forest's boundary frame (null: the network's again). */
  setForest(frame) {
    this.forest = frame || null;
    this.draw();
  }

  /** The picture shown: the forest's while it is on, else the network's. */
  get frame() {
    return this.forest || this.net;
  }

  setTrain(preview) {
    this.train = preview?.kind === 'points' ? preview : null;
    this.draw();
  }

  setSamples(set) {
    this.samples = set?.kind === 'points' && set.count ? set : null;
    this.draw();
  }

  setSelection(index, canPick) {
    this.selected = index;
    this.canPick = canPick;
    this.draw();
  }

  setClasses(classes) {
    this.classes = classes?.length ? classes : ['0', '1'];
  }

  /** The value domain for regression: the surface and the targets share one colour scale. */
  domain() {
    const f = this.frame;
    let lo = f?.min ?? -1;
    let hi = f?.max ?? 1;
    if (this.train?.task === 'regression') {
      for (const v of this.train.y) {
        const t = Array.isArray(v) ? v[0] : v;
        lo = Math.min(lo, t); hi = Math.max(hi, t);
      }
    }
    return valueDomain(lo, hi);
  }

  extent() {
    return this.frame?.extent || this.train?.extent || [-1, 1, -1, 1];
  }

  size() {
    return Math.max(120, Math.min(this.canvas.parentElement.clientWidth || 340, 340));
  }

  draw() {
    if (!onScreen(this.canvas.parentElement)) return; // drawn when its tab is shown
    const side = this.size();
    const ctx = sized(this.canvas, side, side);
    const background = themeRgb('--panel', '#ffffff');
    const f = this.frame;
    this.empty.hidden = Boolean(f);
    this.canvas.dataset.step = f && !this.forest ? String(f.step) : '';
    setAttr(this.canvas, 'data-forest', this.forest ? 'shown' : null);
    const domain = this.domain();
    if (f) {
      const img = boundaryPixels(f, { discretize: this.options.discretize, background, domain, scale: 4 });
      paintPixels(ctx, img.pixels, img.w, img.h, 0, 0, side, side, true);
    } else {
      ctx.fillStyle = css(background);
      ctx.fillRect(0, 0, side, side);
    }
    this.drawPoints(ctx, side, domain, background);
    planeAxes(ctx, side, this.extent());
    this.drawLegend(domain, background);
    this.validationToggle.hidden = !this.samples;
    setAttr(this.canvas, 'data-samples', this.samples ? this.samples.count : null);
    setAttr(this.canvas, 'data-selected', this.samples ? this.selected : null);
    if (this.pointer) this.hover(this.pointer);
    else setText(this.readout, this.idleText());
    setText(this.caption, this.captionText());
  }

  toCanvas(side) {
    const extent = this.extent();
    return (p) => planeXY(p, extent, side, side);
  }

  colourOf(target, domain, background) {
    return this.frame?.mode === 'value' || this.train?.task === 'regression'
      ? valueRgb(target, domain, background) : classRgb(target);
  }

  drawPoints(ctx, side, domain, background) {
    const at = this.toCanvas(side);
    const halo = css(background);
    if (this.options.train && this.train) {
      this.train.x.forEach((p, i) => {
        const t = this.train.y[i];
        const [cx, cy] = at(p);
        ctx.beginPath();
        ctx.arc(cx, cy, 3.1, 0, Math.PI * 2);
        ctx.fillStyle = css(this.colourOf(Array.isArray(t) ? t[0] : t, domain, background));
        ctx.fill();
        ctx.lineWidth = 1;
        ctx.strokeStyle = halo;
        ctx.stroke();
      });
    }
    if (this.options.validation && this.samples) {
      const ink = cssVar('--text', '#0f172a');
      this.samples.points.forEach((p, i) => {
        const [cx, cy] = at(p);
        const t = sampleTarget(this.samples, i);
        ctx.beginPath();
        ctx.arc(cx, cy, 4.6, 0, Math.PI * 2);
        ctx.fillStyle = t == null ? halo : css(this.colourOf(t, domain, background));
        ctx.fill();
        ctx.lineWidth = 1.8;
        ctx.strokeStyle = ink;
        ctx.stroke();
      });
      const sel = this.samples.points[this.selected];
      if (sel) this.drawFollowed(ctx, at(sel), halo);
    }
  }

  /** The followed sample: a wide ring with a halo and four ticks, seen on any colour. */
  drawFollowed(ctx, [cx, cy], halo) {
    const accent = cssVar('--accent', '#2457e6');
    ctx.save();
    ctx.lineCap = 'round';
    for (const [colour, width] of [[halo, 6], [accent, 2.6]]) {
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.beginPath();
      ctx.arc(cx, cy, 10, 0, Math.PI * 2);
      for (const [dx, dy] of [[1, 0], [-1, 0], [0, 1], [0, -1]]) {
        ctx.moveTo(cx + dx * 13, cy + dy * 13);
        ctx.lineTo(cx + dx * 18, cy + dy * 18);
      }
      ctx.stroke();
    }
    ctx.restore();
  }


  drawLegend(domain, background) {
    const f = this.frame;
    const mode = f?.mode || (this.train?.task === 'regression' ? 'value' : 'probability');
    if (!f) {
      this.legend.replaceChildren();
      this.legendKey = null;
      return;
    }
    if (mode === 'class') {
      this.legendKey = null;
      this.legend.replaceChildren(h('div', { class: 'ib-swatches' }, this.classes.map((c, k) => h('span', { class: 'ib-swatch' },
        h('i', { style: { background: css(classRgb(k)) } }), `class ${c}`))));
      return;
    }
    const key = JSON.stringify([mode, this.options.discretize, background, domain, this.classes]);
    if (key === this.legendKey) return; // rebuilt only when it changes, not with every frame
    this.legendKey = key;
    const stops = legendStops(mode, { discretize: this.options.discretize, background, domain });
    const ends = mode === 'value' ? [metric(domain.lo), metric(domain.centre), metric(domain.hi)]
      : [`0% · class ${this.classes[0]}`, '50%', `100% · class ${this.classes[1]}`];
    const title = mode === 'value' ? 'Predicted value' : `Probability of class ${this.classes[1]}`;
    this.legend.replaceChildren(h('div', { class: 'ib-legend-title' }, title),
      h('div', { class: 'ib-bar', style: { background: gradientCss(stops, this.options.discretize) } }),
      h('div', { class: 'ib-ticks' }, ends.map((t) => h('span', {}, t))));
    setAttr(this.legend, 'data-mode', mode);
  }

  captionText() {
    const f = this.frame;
    if (!f) return '';
    const what = f.mode === 'value' ? 'the predicted value' : f.mode === 'class' ? 'the predicted class'
      : `how sure the model is of class ${this.classes[1]}`;
    const pick = !this.samples || !this.options.validation ? ''
      : this.canPick ? ' Rings are the fixed validation samples: click one to follow it through the network.'
        : ' Rings are the fixed validation samples; the circled one is followed through the network.';
    if (this.forest) {
      return `The random forest (the baseline): colour shows ${what.replace('the model', 'the forest')} at each point of the plane; dots are the data. Untick “Show forest boundary” in the run card for the network's.`;
    }
    return `Step ${f.step.toLocaleString('en-US')}: colour shows ${what} at each point of the plane; dots are the data.${pick}`;
  }

  idleText() {
    if (!this.frame) return '';
    if (this.samples && this.selected != null && this.options.validation) {
      return `Following sample #${this.selected}: ${sampleText(this.samples, this.selected, this.classes)}`;
    }
    return 'Point at the plane to read the output there';
  }

  hover(e) {
    if (!this.frame) return;
    const side = this.size();
    const r = this.canvas.getBoundingClientRect();
    const [x0, x1, y0, y1] = this.extent();
    const x = x0 + ((e.clientX - r.left) / side) * (x1 - x0);
    const y = y1 - ((e.clientY - r.top) / side) * (y1 - y0);
    const v = boundaryValueAt(this.frame, x, y);
    if (v == null) return;
    const out = this.frame.mode === 'value' ? `predicted ${metric(v)}` : this.frame.mode === 'class'
      ? `class ${this.classes[Math.round(v)] ?? Math.round(v)}` : `P(class ${this.classes[1]}) = ${(v * 100).toFixed(0)}%`;
    const near = this.nearest(e);
    setText(this.readout, near != null
      ? `Sample #${near}: ${sampleText(this.samples, near, this.classes)}${this.canPick && near !== this.selected ? ' · click to follow' : ''}`
      : `x ${x.toFixed(2)}, y ${y.toFixed(2)}  →  ${out}`);
    this.canvas.classList.toggle('is-pickable', this.canPick && near != null);
  }

  nearest(e) {
    if (!this.samples || !this.options.validation) return null;
    const side = this.size();
    const r = this.canvas.getBoundingClientRect();
    const at = this.toCanvas(side);
    let best = null;
    let bestD = PICK_RADIUS;
    this.samples.points.forEach((p, i) => {
      const [cx, cy] = at(p);
      const d = Math.hypot(cx - (e.clientX - r.left), cy - (e.clientY - r.top));
      if (d < bestD) { best = i; bestD = d; }
    });
    return best;
  }

  click(e) {
    const i = this.nearest(e);
    if (i != null && this.canPick) this.onPick(i);
  }

  /** Where fixed sample `index` is drawn, in CSS pixels from the canvas's top left. */
  ringAt(index) {
    const p = this.samples?.points[index];
    return p ? this.toCanvas(this.size())(p) : null;
  }
}
