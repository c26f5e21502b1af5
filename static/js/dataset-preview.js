// A glance at the data: a scatter plot for 2-D points (with the live decision boundary while
// training, or the random forest's while "Show forest boundary" is on), sample images for
// pictures, a few curves for sequences.

import { api } from './api.js';
import { setAttr, setText } from './dom.js';
import { CLASS_COLOURS } from './insight/colour.js';
import { paintResting } from './insight/env-paint.js';
import { envSummary } from './insight/scenes.js';
import { bytesOf } from './node-viz.js';

const CLASS_COLORS = CLASS_COLOURS; // one table for every picture of classes

const hex = (c) => [1, 3, 5].map((i) => Number.parseInt(c.slice(i, i + 2), 16));

/** Bounds of 2-D points with a margin: [x0, x1, y0, y1]. Pure. */
export function extentOf(points, margin = 0.08) {
  let x0 = Infinity; let x1 = -Infinity; let y0 = Infinity; let y1 = -Infinity;
  for (const [x, y] of points) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  if (!Number.isFinite(x0)) return [-1, 1, -1, 1];
  const mx = (x1 - x0 || 1) * margin; const my = (y1 - y0 || 1) * margin;
  return [x0 - mx, x1 + mx, y0 - my, y1 + my];
}

/** The spec's own params as preview query values, or null when one is out of its range or a
 * required one (an upload's id) is missing. Pure. */
export function previewQuery(spec, meta) {
  const query = {};
  for (const p of meta.params || []) {
    const v = spec[p.name];
    if ((v === undefined || v === null) && p.required) return null;
    if (v === undefined || v === null) continue;
    const numeric = p.type === 'int' || p.type === 'float';
    if (numeric && (typeof v !== 'number' || (p.min != null && v < p.min) || (p.max != null && v > p.max)
      || (p.type === 'int' && !Number.isInteger(v)))) return null;
    if (p.choices && !p.choices.includes(v)) return null;
    query[p.name] = v;
  }
  return query;
}

export class DatasetPreview {
  constructor(canvas, caption) {
    this.canvas = canvas;
    this.caption = caption;
    this.cache = new Map();
    this.data = null;
    this.boundary = null;
    this.forest = null; // the baseline's boundary, drawn in place of the network's while set
    this.key = null;
  }

  /** Show a dataset spec; meta is its /api/datasets entry; task the document's training.task. */
  async show(spec, meta, task = 'auto') {
    this.env = null;
    const key = JSON.stringify(spec);
    setText(this.caption, meta ? describe(meta, task, key === this.key ? this.data : null) : '');
    if (key === this.key) return;
    this.key = key;
    this.boundary = null;
    this.data = null;
    this.meta = meta;
    // The preview route is optional: a dataset entry offers it with `preview_url`, so a server
    // without it never sees a request (and the console never shows a 404).
    // Downloaded datasets have no preview until their first run fetched them: not asked.
    if (!meta?.preview_url || meta.offline === false) {
      this.draw();
      return;
    }
    const query = previewQuery(spec, meta);
    if (!query) { // a value the server would refuse: validation reports it; keep the icon
      this.draw();
      return;
    }
    try {
      if (!this.cache.has(key)) this.cache.set(key, await api.preview(meta.preview_url, { ...query, limit: 240 }));
      if (this.key === key) this.data = this.cache.get(key);
    } catch {
      this.data = null; // the server offers no preview: the caption still describes the data
    }
    if (this.key === key) {
      this.draw();
      if (this.data) setText(this.caption, describe(meta, task, this.data)); // an upload's shape and classes
    }
  }

  /** A dqn design's environment (its GET /api/environments entry; null: none chosen yet): its
   * picture at rest, and what it observes and how many actions it has; `none`: the words
   * without one. */
  showEnvironment(env, { none = 'Choose the environment the agent plays.' } = {}) {
    this.env = env || { none: true };
    this.key = null;
    this.data = null;
    this.boundary = null;
    this.meta = null;
    setText(this.caption, env ? envSummary(env) : none);
    this.draw();
  }

  /** A run_boundary frame: {size: [h, w], extent, data: bytes}. */
  setBoundary(msg) {
    this.boundary = msg ? { ...msg, data: bytesOf(msg.data) } : null;
    this.draw();
  }

  /** The random forest's boundary frame (as run_boundary's) to draw in place of the network's; null: the network's again. */
  setForest(frame) {
    this.forest = frame ? { ...frame, data: bytesOf(frame.data) } : null;
    setAttr(this.canvas, 'data-forest', frame ? 'shown' : null);
    this.draw();
  }

  /** The boundary under the points: the forest's while it is on, else the network's. */
  shownBoundary() {
    return this.forest || this.boundary;
  }

  context() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth || 120; const h = c.clientHeight || 120;
    if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
    const ctx = c.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return { ctx, w, h };
  }

  /** Draw by the preview's kind (points, images, sequences, table); an icon when there is none. */
  draw() {
    const { ctx, w, h } = this.context();
    if (this.env) { // a dqn design's environment (blank before one is chosen)
      paintResting(ctx, this.env, w, h);
      return;
    }
    const d = this.data;
    const plane = (this.meta?.input_shape || []).join() === '2';
    try {
      if (d?.kind === 'points' || (plane && this.shownBoundary())) this.scatter(ctx, w, h, d);
      else if (d?.kind === 'images') this.images(ctx, w, h, d);
      else if (d?.kind === 'sequences') this.sequences(ctx, w, h, d);
      else if (d?.kind === 'text') this.text(ctx, w, h, d);
      else placeholder(ctx, w, h, this.meta);
    } catch {
      ctx.clearRect(0, 0, w, h); // a preview in a shape this page does not know: show the icon
      placeholder(ctx, w, h, this.meta);
    }
  }

  scatter(ctx, w, h, d) {
    const boundary = this.shownBoundary();
    if (boundary) drawBoundary(ctx, w, h, boundary);
    if (!d?.x) return;
    const [x0, x1, y0, y1] = boundary?.extent || d.extent || extentOf(d.x);
    const sx = (x) => ((x - x0) / (x1 - x0)) * w;
    const sy = (y) => h - ((y - y0) / (y1 - y0)) * h;
    const regression = d.task === 'regression';
    const ys = d.y.map((v) => (Array.isArray(v) ? v[0] : v));
    const lo = Math.min(...ys); const hi = Math.max(...ys);
    d.x.forEach(([x, y], i) => {
      const t = ys[i];
      ctx.fillStyle = regression ? diverging((t - lo) / (hi - lo || 1))
        : CLASS_COLORS[Math.abs(Math.round(t)) % CLASS_COLORS.length];
      ctx.beginPath();
      ctx.arc(sx(x), sy(y), 2.6, 0, Math.PI * 2);
      ctx.fill();
      ctx.lineWidth = 0.8;
      ctx.strokeStyle = 'rgba(255,255,255,0.9)';
      ctx.stroke();
    });
  }

  /** A 4x4 grid of sample images: images are flat [c*h*w] rows of `shape` [c, h, w]. */
  images(ctx, w, h, d) {
    const shape = d.shape || this.meta?.input_shape;
    const [ih, iw] = shape.length === 3 ? [shape[1], shape[2]] : [shape[0], shape[1]];
    const cols = 4; const rows = 4; const gap = 3;
    const cell = Math.min((w - gap * (cols - 1)) / cols, (h - gap * (rows - 1)) / rows);
    const img = new ImageData(iw, ih);
    const tmp = new OffscreenCanvas(iw, ih);
    const tctx = tmp.getContext('2d');
    ctx.imageSmoothingEnabled = false;
    d.images.slice(0, cols * rows).forEach((flat, n) => {
      const plane = flat.slice(0, ih * iw); // the first channel
      const lo = Math.min(...plane); const hi = Math.max(...plane);
      plane.forEach((v, i) => {
        const g = 255 - Math.round(((v - lo) / (hi - lo || 1)) * 235);
        img.data.set([g, g, Math.min(255, g + 6), 255], i * 4);
      });
      tctx.putImageData(img, 0, 0);
      ctx.drawImage(tmp, (n % cols) * (cell + gap), Math.floor(n / cols) * (cell + gap), cell, cell);
    });
  }

  /** The opening of a text, a few short lines in the mono font. */
  text(ctx, w, h, d) {
    const css = getComputedStyle(document.documentElement);
    ctx.fillStyle = css.getPropertyValue('--text').trim() || '#111';
    ctx.font = '10.5px "JetBrains Mono", monospace';
    ctx.textAlign = 'left';
    const per = Math.max(4, Math.floor((w - 10) / 6.4));
    const words = String(d.preview || '').replace(/\s+/g, ' ').slice(0, per * 9);
    for (let i = 0; i * per < words.length && i < Math.floor((h - 8) / 12); i += 1) {
      ctx.fillText(words.slice(i * per, (i + 1) * per), 5, 14 + i * 12);
    }
  }

  /** A few series: x rows are flat [time * features]; the first feature is drawn. */
  sequences(ctx, w, h, d) {
    const features = d.input_shape?.[1] || 1;
    const series = d.x.slice(0, 4).map((row) => row.filter((_, i) => i % features === 0));
    let lo = Infinity; let hi = -Infinity;
    for (const s of series) for (const v of s) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    series.forEach((s, k) => {
      ctx.strokeStyle = CLASS_COLORS[(k + 1) % CLASS_COLORS.length];
      ctx.lineWidth = 1.8;
      ctx.beginPath();
      s.forEach((v, i) => {
        const x = (i / (s.length - 1)) * (w - 8) + 4;
        const y = h - 6 - ((v - lo) / (hi - lo || 1)) * (h - 12);
        if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      });
      ctx.stroke();
    });
  }
}

function drawBoundary(ctx, w, h, b) {
  const [bh, bw] = b.size;
  const img = new ImageData(bw, bh);
  const [c0, c1] = [hex(CLASS_COLORS[0]), hex(CLASS_COLORS[1])];
  const lo = b.min ?? 0; const hi = b.max ?? 1;
  for (let i = 0; i < bh * bw; i += 1) {
    const v = lo + ((b.data[i] ?? 0) / 255) * (hi - lo);
    let rgb; let alpha;
    if (b.mode === 'class') {
      rgb = hex(CLASS_COLORS[Math.round(v) % CLASS_COLORS.length]);
      alpha = 120;
    } else {
      const t = b.mode === 'value' ? (v - lo) / (hi - lo || 1) : v;
      rgb = [0, 1, 2].map((j) => Math.round(c0[j] + (c1[j] - c0[j]) * t));
      alpha = Math.round(70 + 120 * Math.abs(t - 0.5) * 2);
    }
    img.data.set([...rgb, alpha], i * 4); // rows run top (y1) to bottom (y0)
  }
  const tmp = new OffscreenCanvas(bw, bh);
  tmp.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(tmp, 0, 0, w, h);
}

function diverging(t) {
  const a = hex(CLASS_COLORS[0]); const b = hex(CLASS_COLORS[1]);
  return `rgb(${[0, 1, 2].map((j) => Math.round(a[j] + (b[j] - a[j]) * t)).join(',')})`;
}

/** No preview data: an icon of the kind of data (not the data itself) and its shape. */
function placeholder(ctx, w, h, meta) {
  const css = getComputedStyle(document.documentElement);
  const muted = css.getPropertyValue('--faint').trim() || '#999';
  const shape = meta?.input_shape || null;
  ctx.save();
  ctx.globalAlpha = 0.55;
  const cx = w / 2; const cy = h / 2 - 8;
  if (shape && shape.length === 1 && shape[0] === 2) {
    [[-22, -14, 0], [-12, -22, 0], [-26, 2, 0], [-8, -6, 0], [14, 10, 1], [24, 0, 1], [8, 20, 1], [22, 18, 1], [2, 4, 1], [-16, 14, 0]]
      .forEach(([dx, dy, k]) => {
        ctx.fillStyle = CLASS_COLORS[k];
        ctx.beginPath();
        ctx.arc(cx + dx, cy + dy, 4, 0, Math.PI * 2);
        ctx.fill();
      });
  } else if ((shape && shape.length >= 2 && shape[shape.length - 1] > 1) || meta?.name === 'images') {
    ctx.fillStyle = muted;
    for (let i = 0; i < 9; i += 1) ctx.fillRect(cx - 27 + (i % 3) * 19, cy - 27 + Math.floor(i / 3) * 19, 16, 16);
  } else if ((shape && shape.length === 2) || meta?.name === 'text') {
    ctx.strokeStyle = CLASS_COLORS[1];
    ctx.lineWidth = 2.5;
    ctx.beginPath();
    for (let x = -32; x <= 32; x += 2) ctx.lineTo(cx + x, cy + 14 * Math.sin(x / 7));
    ctx.stroke();
  } else {
    ctx.strokeStyle = muted;
    ctx.lineWidth = 2;
    for (let r = 0; r < 4; r += 1) ctx.strokeRect(cx - 30, cy - 24 + r * 12, 60, 12);
  }
  ctx.restore();
  ctx.fillStyle = css.getPropertyValue('--muted').trim() || '#666';
  ctx.font = '600 12px "JetBrains Mono", monospace';
  ctx.textAlign = 'center';
  ctx.fillText(shape ? `[${shape.join(', ')}]` : String(meta?.name || 'csv').toUpperCase(), w / 2, h - 12);
}

/** "2 features → 2 classes · 500 samples"; `data`, the dataset's preview, tells an upload's
 * shape and classes (the catalog cannot). */
export function describe(meta, task = 'auto', data = null) {
  const dims = meta.input_shape || data?.input_shape || data?.shape;
  const shape = dims ? `[${dims.join(', ')}]` : 'table';
  const classes = meta.num_classes ?? data?.classes?.length;
  const target = task === 'reconstruction' ? 'itself (reconstruction)'
    : meta.task === 'classification' ? (classes ? `${classes} classes` : 'its classes') : 'a number';
  const n = meta.default_samples ? ` · ${meta.default_samples.toLocaleString('en-US')} samples` : '';
  return meta.task ? `${shape} → ${target}${n}` : meta.doc;
}
