// Canvas helpers shared by the insight views: device-pixel sizing, theme colours read from CSS,
// heat maps of values and sample images.

import { diverging } from '../node-viz.js';
import { rgbOf } from './colour.js';

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
