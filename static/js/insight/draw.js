// Canvas helpers shared by the insight views: device-pixel sizing, theme colours read from CSS,
// heat maps of values, and the fixed samples (images, points, sequences) drawn small.

import { diverging } from '../node-viz.js';
import { classRgb, css, rgbOf } from './colour.js';
import { isBinary, planeXY, sampleImage, sampleSeries, sampleTarget } from './pictures.js';

/** A CSS variable of the page's theme. */
export function cssVar(name, fallback = '') {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** A theme colour as [r, g, b] (the variable must hold #rrggbb). */
export function themeRgb(name, fallback = '#ffffff') {
  const value = cssVar(name, fallback);
  return rgbOf(/^#[0-9a-f]{6}$/i.test(value) ? value : fallback);
}

/** Size a canvas to w x h CSS pixels (sharp on any screen); returns its cleared context. */
export function sized(canvas, w, h) {
  const dpr = window.devicePixelRatio || 1;
  const bw = Math.round(w * dpr);
  const bh = Math.round(h * dpr);
  if (canvas.width !== bw || canvas.height !== bh) {
    canvas.width = bw;
    canvas.height = bh;
  }
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return ctx;
}

const scratch = new Map(); // "w x h" -> {canvas, ctx, img}: reused between frames

function buffer(w, h) {
  const key = `${w}x${h}`;
  let b = scratch.get(key);
  if (!b) {
    const canvas = new OffscreenCanvas(w, h);
    b = { canvas, ctx: canvas.getContext('2d'), img: new ImageData(w, h) };
    scratch.set(key, b);
  }
  return b;
}

/** Paint RGBA pixels (w x h) into the rectangle (x, y, dw, dh). */
export function paintPixels(ctx, pixels, w, h, x, y, dw, dh, smooth = false) {
  const b = buffer(w, h);
  b.img.data.set(pixels);
  b.ctx.putImageData(b.img, 0, 0);
  ctx.imageSmoothingEnabled = smooth;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(b.canvas, x, y, dw, dh);
}

/** Paint a grid of values with colour(v) -> [r, g, b] into a rectangle. */
export function paintValues(ctx, { h, w, at }, colour, x, y, dw, dh, smooth = false) {
  const px = new Uint8ClampedArray(w * h * 4);
  for (let r = 0; r < h; r += 1) {
    for (let c = 0; c < w; c += 1) {
      const [cr, cg, cb] = colour(at(r, c));
      const i = (r * w + c) * 4;
      px[i] = cr; px[i + 1] = cg; px[i + 2] = cb; px[i + 3] = 255;
    }
  }
  paintPixels(ctx, px, w, h, x, y, dw, dh, smooth);
}

/** The diverging scale of the node thumbnails, with zero as the theme's node background. */
export function divergingColour(scale, mid = themeRgb('--node-bg')) {
  return (v) => diverging(v, scale, mid);
}

/** Paint a sample image ({h, w, channels, values 0..1}): ink on paper, or RGB. */
export function paintSample(ctx, img, x, y, size) {
  const { h, w, channels, values } = img;
  const px = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < w * h; i += 1) {
    if (channels >= 3) {
      for (let c = 0; c < 3; c += 1) px[i * 4 + c] = Math.round(values[c * w * h + i] * 255);
    } else {
      const g = 255 - Math.round(values[i] * 235);
      px[i * 4] = g; px[i * 4 + 1] = g; px[i * 4 + 2] = Math.min(255, g + 6);
    }
    px[i * 4 + 3] = 255;
  }
  paintPixels(ctx, px, w, h, x, y, size, size, false);
}

/** A small canvas with one sample image drawn on it (for grids and strips). */
export function sampleCanvas(img, size) {
  const canvas = document.createElement('canvas');
  paintSample(sized(canvas, size, size), img, 0, 0, size);
  return canvas;
}

/**
 * A line plot of one series ({steps, features, at(t, f)}) on the scale lo..hi into a
 * rectangle, one line per feature; each value is a dot as well when there are few steps.
 */
export function paintSeries(ctx, series, lo, hi, x, y, w, h, { colour = cssVar('--accent', '#2457e6'), width = 1.5 } = {}) {
  const { steps, features } = series;
  const px = (t) => x + (steps > 1 ? (t / (steps - 1)) * w : w / 2);
  const py = (v) => y + h - ((v - lo) / (hi - lo || 1)) * h;
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.fillStyle = colour;
  ctx.lineWidth = width;
  ctx.lineJoin = 'round';
  for (let f = 0; f < features; f += 1) {
    ctx.globalAlpha = f === 0 ? 1 : 0.55;
    ctx.beginPath();
    for (let t = 0; t < steps; t += 1) ctx[t ? 'lineTo' : 'moveTo'](px(t), py(series.at(t, f)));
    ctx.stroke();
    if (w / steps >= 6) {
      for (let t = 0; t < steps; t += 1) {
        ctx.beginPath();
        ctx.arc(px(t), py(series.at(t, f)), Math.min(2.5, width + 0.8), 0, Math.PI * 2);
        ctx.fill();
      }
    }
  }
  ctx.restore();
}

/**
 * A series of bits as a row of cells, one per step: filled for 1, outlined for 0; the digit is
 * written in each cell when there is room.
 */
export function paintBits(ctx, series, x, y, w, h, { colour = cssVar('--accent', '#2457e6'), digits = false } = {}) {
  const { steps } = series;
  const cell = w / steps;
  const gap = cell >= 8 ? 2 : cell >= 4 ? 1 : 0;
  ctx.save();
  ctx.lineWidth = 1;
  for (let t = 0; t < steps; t += 1) {
    const on = series.at(t) > 0.5;
    const cx = x + t * cell + gap / 2;
    if (on) {
      ctx.fillStyle = colour;
      ctx.fillRect(cx, y, cell - gap, h);
    } else {
      ctx.strokeStyle = cssVar('--border-strong', '#b8c2d1');
      ctx.strokeRect(cx + 0.5, y + 0.5, Math.max(0, cell - gap - 1), h - 1);
    }
    if (digits && cell >= 14) {
      label(ctx, on ? '1' : '0', cx + (cell - gap) / 2, y + h / 2,
        { align: 'center', size: 12, colour: on ? '#ffffff' : cssVar('--muted', '#666') });
    }
  }
  ctx.restore();
}

/** A sample's dot: its class colour, ringed in the page's ink so it shows on any picture. */
export function paintDot(ctx, cx, cy, fill, r = 3.5) {
  ctx.beginPath();
  ctx.arc(cx, cy, r + 1.6, 0, Math.PI * 2);
  ctx.fillStyle = '#ffffff';
  ctx.fill();
  ctx.beginPath();
  ctx.arc(cx, cy, r, 0, Math.PI * 2);
  ctx.fillStyle = fill;
  ctx.fill();
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = '#0f172a';
  ctx.stroke();
}

/** The colour sample `index` is drawn in: its class's, or the accent when it has no class. */
export function sampleColour(set, index) {
  const target = sampleTarget(set, index);
  return set.labels && target != null ? css(classRgb(target)) : cssVar('--accent', '#2457e6');
}

/**
 * A small canvas showing fixed sample `index` of a sampleSet: its image, its place on the
 * plane (a dot in its class colour), its sequence as a line, or its values as bars.
 */
export function sampleThumb(set, index, size) {
  if (set.kind === 'images') return sampleCanvas(sampleImage(set.frame, index), size);
  const canvas = document.createElement('canvas');
  const ctx = sized(canvas, size, size);
  ctx.fillStyle = cssVar('--panel-2', '#f5f7fa');
  ctx.fillRect(0, 0, size, size);
  const colour = sampleColour(set, index);
  if (set.kind === 'points') {
    const [cx, cy] = planeXY(set.points[index], set.extent || [-1, 1, -1, 1], size, size);
    ctx.strokeStyle = cssVar('--border', '#d9dfe8');
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(size / 2, 0); ctx.lineTo(size / 2, size); ctx.moveTo(0, size / 2); ctx.lineTo(size, size / 2);
    ctx.stroke();
    paintDot(ctx, cx, cy, colour, Math.max(2, size / 9));
  } else {
    const f = set.frame;
    const pad = Math.max(2, size / 10);
    if (isBinary(f)) paintBits(ctx, sampleSeries(f, index), pad / 2, size / 3, size - pad, size / 3, { colour });
    else {
      paintSeries(ctx, sampleSeries(f, index), f.min, f.max, pad, pad, size - 2 * pad, size - 2 * pad,
        { colour, width: size < 30 ? 1.2 : 1.6 });
    }
  }
  return canvas;
}

/** Label text in the page's mono font. */
export function label(ctx, text, x, y, { align = 'left', colour = cssVar('--muted', '#666'), size = 11, weight = 600 } = {}) {
  ctx.font = `${weight} ${size}px "JetBrains Mono", ui-monospace, monospace`;
  ctx.textAlign = align;
  ctx.textBaseline = 'middle';
  ctx.fillStyle = colour;
  ctx.fillText(text, x, y);
}

/** Is an element laid out on screen (not inside a hidden tab or a closed panel)? */
export function onScreen(el) {
  return el.offsetParent !== null;
}

/** The plane's extent written at its corners: x0 and x1 along the bottom, y1 at the top. */
export function planeAxes(ctx, side, [x0, x1, , y1]) {
  const colour = cssVar('--text', '#111');
  ctx.save();
  ctx.globalAlpha = 0.7;
  label(ctx, `${x0}`, 6, side - 9, { colour, size: 10.5 });
  label(ctx, `${x1}`, side - 6, side - 9, { colour, size: 10.5, align: 'right' });
  label(ctx, `${y1}`, 6, 10, { colour, size: 10.5 });
  ctx.restore();
}
