// What a gan's generator makes (run_generated), drawn as GAN Lab does: on 2-D data the
// discriminator's D(x) over the plane (run_boundary) under the real points (green) and the
// generated ones (purple), each generated point with an arrow where the generator's loss pushes
// it, and the generator's manifold (a noise grid mapped through G) as a faint warped grid; on
// images an 8 x 8 grid of samples from fixed noise. Under it a legend, MMD and the game's badges.

import { h, setAttr, setText } from '../dom.js';
import { metric } from '../format.js';
import { FAKE_COLOUR, REAL_COLOUR, boundaryPixels, boundaryValueAt, gradientCss, legendStops } from './colour.js';
import { cssVar, onScreen, planeAxes, paintPixels, paintSample, sized, themeRgb } from './draw.js';
import { ARROW_PX, arrowHead, arrowScale, arrowSegments, badgeKey, gameText, generatedImage, holdBadges, manifoldLines,
  outside, sampleGrid } from './game.js';
import { planeXY } from './pictures.js';

const MAX_SIDE = 340;

export class GeneratedView {
  /** metricAt(name, step) -> {value, step} | null: the newest value of a metric by then. */
  constructor(root, { metricAt = () => null } = {}) {
    this.root = root;
    this.metricAt = metricAt;
    this.frame = null; // the run_generated frame shown
    this.boundary = null; // the run_boundary frame shown: D(x) over the plane
    this.frames = 0;
    this.peak = 0; // the largest typical gradient of this run (arrows shrink below it)
    this.options = { real: true, generated: true, gradients: true, manifold: true };
    const check = (name, text, title) => {
      const input = h('input', { type: 'checkbox', name: `gan_${name}`, checked: this.options[name] });
      input.addEventListener('change', () => { this.options[name] = input.checked; this.draw(); });
      return h('label', { class: 'insight-check', title }, input, text);
    };
    this.toolbar = h('div', { class: 'insight-toolbar ig-toolbar' },
      check('real', 'Real', 'The real data (validation samples)'),
      check('generated', 'Generated', 'What the generator makes from a fixed batch of noise'),
      check('gradients', 'Gradients', 'Where the generator\'s loss pushes each generated sample'),
      check('manifold', 'Manifold', 'A grid in noise space mapped through the generator'));
    this.held = new Map(); // badges shown a little after their last frame (holdBadges)
    this.canvas = h('canvas', { class: 'ig-canvas', 'aria-label': 'Generated samples over the discriminator\'s output' });
    this.empty = h('p', { class: 'insight-empty' }, 'Train to watch the generator learn to make samples that the discriminator takes for real.');
    this.readout = h('p', { class: 'ib-readout' });
    this.legend = h('div', { class: 'ig-legend' });
    this.stats = h('p', { class: 'ig-stats' });
    this.badges = h('div', { class: 'ig-badges', 'aria-live': 'polite' });
    this.caption = h('p', { class: 'insight-caption' });
    root.append(this.toolbar, h('div', { class: 'ib-plot' }, this.canvas, this.empty), this.readout, this.stats,
      this.badges, this.legend, this.caption);
    this.canvas.addEventListener('pointermove', (e) => {
      this.pointer = { clientX: e.clientX, clientY: e.clientY };
      this.hover();
    });
    this.canvas.addEventListener('pointerleave', () => {
      this.pointer = null;
      this.hover();
    });
  }

  /** A new run (or none): nothing shown, arrows scaled afresh. */
  reset() {
    this.frame = null;
    this.boundary = null;
    this.frames = 0;
    this.peak = 0;
    this.held.clear();
    this.mark();
    this.drawBadges();
    this.draw();
  }

  /** The run_generated frame to show (live, or a checkpoint's: `past`), or null. */
  set(frame, { past = false } = {}) {
    if (frame && frame !== this.frame) this.frames += 1;
    this.frame = frame || null;
    if (this.frame?.kind === 'points') this.peak = arrowScale(this.frame.gradients, this.peak).peak;
    this.mark();
    if (frame) this.drawBadges(frame.badges, past);
    this.schedule();
  }

  /** The run_boundary frame (the discriminator's D(x) over the plane), or null. */
  setBoundary(frame) {
    this.boundary = frame || null;
    setAttr(this.canvas, 'data-boundary-step', this.boundary ? this.boundary.step : null);
    this.schedule();
  }

  /** Draw once in the next animation frame, however many frames arrived before it. */
  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      this.draw();
    });
  }

  /** The DOM hooks, kept current whether or not the tab is shown. */
  mark() {
    const f = this.frame;
    const points = f?.kind === 'points';
    setAttr(this.canvas, 'data-kind', f ? f.kind : null);
    setAttr(this.canvas, 'data-step', f ? f.step : null);
    setAttr(this.canvas, 'data-frames', this.frames);
    setAttr(this.canvas, 'data-generated', points ? f.points?.length ?? 0 : f?.frame?.shape?.[0] ?? null);
    setAttr(this.canvas, 'data-real', points ? f.real?.length ?? 0 : null);
    setAttr(this.canvas, 'data-manifold', points && f.manifold ? f.manifold.size.join('x') : null);
    setAttr(this.canvas, 'data-badges', f ? (f.badges || []).map((b) => b.id).join(' ') : null);
    setAttr(this.root, 'data-badges', f?.badges?.length || null);
    this.toolbar.hidden = !points;
  }

  extent() {
    return this.frame?.extent || this.boundary?.extent || [-1, 1, -1, 1];
  }

  size() {
    return Math.max(160, Math.min(this.canvas.parentElement.clientWidth || MAX_SIDE, MAX_SIDE));
  }

  draw() {
    if (!onScreen(this.canvas.parentElement)) return; // drawn when its tab is shown
    const f = this.frame;
    const side = this.size();
    this.empty.hidden = Boolean(f);
    if (!f) {
      const ctx = sized(this.canvas, side, side);
      ctx.fillStyle = cssVar('--panel', '#ffffff');
      ctx.fillRect(0, 0, side, side);
      this.legend.replaceChildren();
      this.legendKey = null;
      setText(this.readout, '');
      setText(this.stats, '');
      setText(this.caption, '');
      return;
    }
    this.readout.hidden = f.kind !== 'points';
    if (f.kind === 'images') this.drawImages(side);
    else this.drawPlane(side);
    this.drawLegend();
    this.hover();
    setText(this.stats, this.statsText());
    setText(this.caption, this.captionText());
  }

  drawPlane(side) {
    const ctx = sized(this.canvas, side, side);
    const background = themeRgb('--panel', '#ffffff');
    const b = this.boundary;
    if (b) {
      const key = background.join();
      if (this.shade?.frame !== b || this.shade.key !== key) { // a new D(x), or a new theme
        this.shade = { frame: b, key, img: boundaryPixels({ ...b, mode: 'realness' }, { background, scale: 4 }) };
      }
      const { img } = this.shade;
      paintPixels(ctx, img.pixels, img.w, img.h, 0, 0, side, side, true);
    } else {
      ctx.fillStyle = cssVar('--panel', '#ffffff');
      ctx.fillRect(0, 0, side, side);
    }
    const extent = this.extent();
    const at = (p) => planeXY(p, extent, side, side);
    const f = this.frame;
    const real = cssVar('--real', REAL_COLOUR);
    const fake = cssVar('--fake', FAKE_COLOUR);
    const halo = cssVar('--panel', '#ffffff');
    ctx.save();
    ctx.lineJoin = 'round';
    ctx.lineCap = 'round';
    if (this.options.manifold && f.manifold) {
      ctx.strokeStyle = fake;
      ctx.globalAlpha = 0.32;
      ctx.lineWidth = 1;
      for (const line of manifoldLines(f.manifold)) {
        ctx.beginPath();
        line.forEach((p, i) => ctx[i ? 'lineTo' : 'moveTo'](...at(p)));
        ctx.stroke();
      }
      ctx.globalAlpha = 1;
    }
    if (this.options.real) dots(ctx, f.real, at, real, halo, 2.7);
    this.arrows = 0;
    const inView = (p) => p[0] >= extent[0] && p[0] <= extent[1] && p[1] >= extent[2] && p[1] <= extent[3];
    if (this.options.gradients && this.options.generated && f.gradients) {
      const { ref } = arrowScale(f.gradients, this.peak);
      const shown = (f.points || []).map((p) => (inView(p) ? p : null));
      const segments = arrowSegments(shown, f.gradients, { toCanvas: at, ref, px: arrowPx(side) });
      this.arrows = segments.length;
      ctx.strokeStyle = cssVar('--arrow', '#3b0764');
      ctx.globalAlpha = 0.6;
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (const s of segments) {
        ctx.moveTo(s.x0, s.y0);
        ctx.lineTo(s.x1, s.y1);
        const [a, c] = arrowHead(s);
        ctx.moveTo(...a);
        ctx.lineTo(s.x1, s.y1);
        ctx.lineTo(...c);
      }
      ctx.stroke();
      ctx.globalAlpha = 1;
    }
    if (this.options.generated) {
      dots(ctx, (f.points || []).filter(inView), at, fake, halo, 2.7);
      // Samples off the plot sit on its edge, hollow: there are some over there.
      const edge = (f.points || []).filter((p) => !inView(p)).map((p) => at(p).map((v) => Math.max(3, Math.min(side - 3, v))));
      ctx.strokeStyle = fake;
      ctx.globalAlpha = 0.7;
      ctx.lineWidth = 1.3;
      for (const [cx, cy] of edge) {
        ctx.beginPath();
        ctx.arc(cx, cy, 2.2, 0, Math.PI * 2);
        ctx.stroke();
      }
      ctx.globalAlpha = 1;
    }
    ctx.restore();
    setAttr(this.canvas, 'data-arrows', this.arrows);
    planeAxes(ctx, side, this.extent());
  }


  drawImages(side) {
    const frame = this.frame.frame;
    const n = Math.min(64, frame?.shape?.[0] || 0);
    const pad = 4;
    const grid = sampleGrid(n, side - 2 * pad, 3);
    const w = grid.cols * grid.tile + grid.gap * (grid.cols - 1) + 2 * pad;
    const hgt = grid.rows * grid.tile + grid.gap * (grid.rows - 1) + 2 * pad;
    const ctx = sized(this.canvas, w, hgt);
    ctx.fillStyle = cssVar('--panel-2', '#f5f7fa');
    ctx.fillRect(0, 0, w, hgt);
    for (let i = 0; i < n; i += 1) {
      const x = pad + (i % grid.cols) * (grid.tile + grid.gap);
      const y = pad + Math.floor(i / grid.cols) * (grid.tile + grid.gap);
      paintSample(ctx, generatedImage(frame, i), x, y, grid.tile);
    }
    setAttr(this.canvas, 'data-arrows', null);
  }

  drawLegend() {
    const f = this.frame;
    const key = JSON.stringify([f.kind, Boolean(this.boundary), Boolean(f.manifold), document.documentElement.dataset.theme]);
    if (key === this.legendKey) return; // rebuilt only when it changes, not with every frame
    this.legendKey = key;
    if (f.kind !== 'points') {
      this.legend.replaceChildren();
      return;
    }
    const item = (cls, text, title) => h('span', { class: 'ig-legend-item', title }, h('i', { class: `ig-key ig-key-${cls}`, 'aria-hidden': 'true' }), text);
    const stops = legendStops('realness', { background: themeRgb('--panel', '#ffffff') });
    this.legend.replaceChildren(
      h('div', { class: 'ig-legend-row' },
        item('real', 'real data', 'Samples of the real data (the validation split)'),
        item('fake', 'generated', 'The generator\'s samples from a fixed batch of noise'),
        item('arrow', 'G\'s gradient', 'Where the generator\'s loss would move each generated sample'),
        f.manifold ? item('grid', 'manifold', 'A grid in noise space mapped through the generator: how it folds the noise onto the plane') : null),
      this.boundary ? h('div', { class: 'ig-dx' },
        h('span', { class: 'ig-dx-title' }, 'Discriminator D(x)'),
        h('div', { class: 'ib-bar', style: { background: gradientCss(stops) } }),
        h('div', { class: 'ib-ticks' }, h('span', {}, '0 · fake'), h('span', {}, '0.5'), h('span', {}, '1 · real'))) : null);
  }

  statsText() {
    const f = this.frame;
    // Most frames come between two validations: the MMD measured last by then, and when.
    const last = typeof f.mmd === 'number' ? { value: f.mmd, step: f.step } : this.metricAt('mmd', f.step);
    const parts = [gameText({ ...f, mmd: last?.value ?? null }, { metric })];
    if (last && last.step !== f.step) parts[0] += ` (at step ${last.step.toLocaleString('en-US')})`;
    if (f.kind === 'points') {
      const off = outside(f.points, this.extent());
      if (off) parts.push(`${off} off the plot (on its edge)`);
    }
    return parts.join(' · ');
  }

  captionText() {
    if (this.frame.kind === 'images') {
      return `${this.frame.frame?.shape?.[0] ?? 0} samples from the same fixed noise at every step: watch them turn from noise into something like the data.`;
    }
    return 'The generator learns to move its purple samples onto the green data; the background is the '
      + 'discriminator\'s belief that a point is real (green) or generated (purple). At the end of a good game '
      + 'the purple covers the green and D(x) is 0.5 everywhere.';
  }

  hover() {
    const f = this.frame;
    if (!f || f.kind !== 'points') {
      setText(this.readout, '');
      return;
    }
    if (!this.pointer || !this.boundary) {
      setText(this.readout, this.boundary ? 'Point at the plane to read D(x) there' : '');
      return;
    }
    const side = this.size();
    const r = this.canvas.getBoundingClientRect();
    const [x0, x1, y0, y1] = this.extent();
    const x = x0 + ((this.pointer.clientX - r.left) / side) * (x1 - x0);
    const y = y1 - ((this.pointer.clientY - r.top) / side) * (y1 - y0);
    const v = boundaryValueAt(this.boundary, x, y);
    if (v == null) return;
    const word = v > 0.6 ? 'looks real' : v < 0.4 ? 'looks generated' : 'undecided';
    setText(this.readout, `x ${x.toFixed(2)}, y ${y.toFixed(2)}  →  D(x) = ${v.toFixed(2)} · ${word}`);
  }

  /** The game's warnings, each with what to try; a checkpoint's are its own, held by none. */
  drawBadges(latest = [], past = false) {
    const badges = past ? latest || [] : holdBadges(this.held, latest, Date.now());
    const key = badgeKey(badges);
    if (key === this.badgeKey) return;
    this.badgeKey = key;
    this.badges.replaceChildren(...badges.map((b) => h('div', { class: 'ih-flag ig-badge', dataset: { badge: b.id } },
      h('div', { class: 'ih-flag-head' }, h('span', { class: 'ih-badge' }, '! ', b.title || b.id)),
      b.message ? h('p', {}, capital(b.message)) : null,
      b.advice ? h('p', { class: 'ig-advice' }, h('b', {}, 'Try: '), b.advice) : null)));
  }
}

/** The typical arrow's length on a plot `side` pixels wide. */
function arrowPx(side) {
  return Math.max(10, (side / MAX_SIDE) * ARROW_PX);
}

function dots(ctx, points, at, fill, halo, r) {
  if (!points?.length) return;
  ctx.fillStyle = fill;
  ctx.strokeStyle = halo;
  ctx.lineWidth = 1;
  for (const p of points) {
    const [cx, cy] = at(p);
    ctx.beginPath();
    ctx.arc(cx, cy, r, 0, Math.PI * 2);
    ctx.fill();
    ctx.stroke();
  }
}

function capital(text) {
  const s = String(text);
  return s.charAt(0).toUpperCase() + s.slice(1);
}
