// Colour scales of the insight pictures: the class colours, TensorFlow Playground's diverging
// orange (negative) / blue (positive) scale, and the decision boundary as RGBA pixels. Pure.

import { bytesOf } from '../node-viz.js';

/** One colour per class; class 0 orange and class 1 blue, as TensorFlow Playground. */
export const CLASS_COLOURS = ['#f59e0b', '#3b82f6', '#10b981', '#ef4444', '#8b5cf6', '#ec4899',
  '#14b8a6', '#eab308', '#6366f1', '#f97316'];

/** A gan's two sides, as GAN Lab draws them: real data green, generated samples purple. */
export const REAL_COLOUR = '#16a34a';
export const FAKE_COLOUR = '#a21caf';
const REAL = rgbOf(REAL_COLOUR);
const FAKE = rgbOf(FAKE_COLOUR);

const NEG = [245, 130, 32]; // the same ends as the node thumbnails (node-viz.js)
const POS = [37, 99, 235];

/** '#f59e0b' -> [245, 158, 11] */
export function rgbOf(hex) {
  return [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
}

/** a + (b - a) * t, per channel, rounded. */
export function mix(a, b, t) {
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t));
}

export const classRgb = (k) => rgbOf(CLASS_COLOURS[Math.abs(Math.round(k)) % CLASS_COLOURS.length]);

export const css = (rgb, alpha = 1) => (alpha === 1 ? `rgb(${rgb.join(',')})` : `rgba(${rgb.join(',')},${alpha})`);

/**
 * How values map to the diverging scale: around zero when the range holds it (negative orange,
 * positive blue), else around the middle of the range. {lo, hi, centre, half}.
 */
export function valueDomain(lo, hi) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { lo: -1, hi: 1, centre: 0, half: 1 };
  const centre = lo < 0 && hi > 0 ? 0 : (lo + hi) / 2;
  const half = Math.max(hi - centre, centre - lo) || 1;
  return { lo: centre - half, hi: centre + half, centre, half };
}

/** -1..1 on a domain; `bands` > 0 rounds it to that many steps each side (discretized). */
export function position(v, domain, bands = 0) {
  const t = Math.max(-1, Math.min(1, (v - domain.centre) / domain.half));
  return bands > 0 ? Math.round(t * bands) / bands : t;
}

/** Colour of a value on the diverging scale, fading into `background` at the centre. */
export function valueRgb(v, domain, background, bands = 0) {
  const t = position(v, domain, bands);
  return mix(background, t < 0 ? NEG : POS, Math.abs(t) * 0.9);
}

/** The colour of one boundary value (probability of class 1, class index, a value, or a gan
 * discriminator's D(x) = "how real", mode `realness`: purple for fake, green for real). */
export function boundaryRgb(v, mode, { discretize = false, background = [255, 255, 255], domain } = {}) {
  if (mode === 'class') return mix(background, classRgb(v), 0.5);
  if (mode === 'realness') {
    const end = v >= 0.5 ? REAL : FAKE;
    return mix(background, end, discretize ? 0.34 : 0.05 + 0.5 * Math.abs(2 * v - 1));
  }
  if (mode === 'value') return valueRgb(v, domain || valueDomain(-1, 1), background, discretize ? 4 : 0);
  const end = classRgb(v >= 0.5 ? 1 : 0);
  if (discretize) return mix(background, end, 0.5);
  return mix(background, end, 0.08 + 0.62 * Math.abs(2 * v - 1));
}

/**
 * Bilinear upsampling of a h x w byte grid by `f` (edge pixels centred like the canvas's own
 * scaling), so that a discretized boundary is a smooth curve rather than 64 x 64 steps.
 */
export function upsample(bytes, h, w, f) {
  const H = h * f;
  const W = w * f;
  const out = new Uint8Array(H * W);
  for (let r = 0; r < H; r += 1) {
    const y = Math.min(h - 1, Math.max(0, (r + 0.5) / f - 0.5));
    const y0 = Math.floor(y);
    const y1 = Math.min(h - 1, y0 + 1);
    const fy = y - y0;
    for (let c = 0; c < W; c += 1) {
      const x = Math.min(w - 1, Math.max(0, (c + 0.5) / f - 0.5));
      const x0 = Math.floor(x);
      const x1 = Math.min(w - 1, x0 + 1);
      const fx = x - x0;
      const top = bytes[y0 * w + x0] * (1 - fx) + bytes[y0 * w + x1] * fx;
      const bottom = bytes[y1 * w + x0] * (1 - fx) + bytes[y1 * w + x1] * fx;
      out[r * W + c] = Math.round(top * (1 - fy) + bottom * fy);
    }
  }
  return out;
}

/**
 * A run_boundary frame as RGBA pixels (row 0 is the top, y1), ready for ImageData, upsampled
 * `scale` times (class indices are never blended: they keep their own grid). {pixels, h, w}.
 */
export function boundaryPixels(frame, options = {}) {
  const f = frame.mode === 'class' ? 1 : (options.scale || 1);
  const [h, w] = [frame.size[0] * f, frame.size[1] * f];
  const bytes = f === 1 ? bytesOf(frame.data) : upsample(bytesOf(frame.data), frame.size[0], frame.size[1], f);
  const lo = frame.min ?? 0;
  const hi = frame.max ?? 1;
  const domain = options.domain || valueDomain(lo, hi);
  const out = new Uint8ClampedArray(w * h * 4);
  const cache = new Map(); // 256 byte values at most: colour each once
  for (let i = 0; i < w * h; i += 1) {
    const b = bytes[i] ?? 0;
    let rgb = cache.get(b);
    if (!rgb) {
      rgb = boundaryRgb(lo + (b / 255) * (hi - lo), frame.mode, { ...options, domain });
      cache.set(b, rgb);
    }
    out[i * 4] = rgb[0]; out[i * 4 + 1] = rgb[1]; out[i * 4 + 2] = rgb[2]; out[i * 4 + 3] = 255;
  }
  return { pixels: out, h, w };
}

/** The boundary value at data point (x, y), or null outside the extent. */
export function boundaryValueAt(frame, x, y) {
  const [x0, x1, y0, y1] = frame.extent;
  const [h, w] = frame.size;
  if (x < x0 || x > x1 || y < y0 || y > y1) return null;
  const col = Math.min(w - 1, Math.round(((x - x0) / (x1 - x0)) * (w - 1)));
  const row = Math.min(h - 1, Math.round(((y1 - y) / (y1 - y0)) * (h - 1)));
  const b = bytesOf(frame.data)[row * w + col] ?? 0;
  return (frame.min ?? 0) + (b / 255) * ((frame.max ?? 1) - (frame.min ?? 0));
}

/** Colour stops of the boundary legend: [{at 0..1, rgb}] for a CSS gradient. */
export function legendStops(mode, { discretize = false, background = [255, 255, 255], domain } = {}) {
  if (mode === 'class') return [];
  const n = discretize ? 9 : 17;
  const stops = [];
  for (let i = 0; i < n; i += 1) {
    const at = i / (n - 1);
    const v = mode === 'value' ? domain.lo + at * (domain.hi - domain.lo) : at;
    stops.push({ at, rgb: boundaryRgb(v, mode, { discretize, background, domain }) });
  }
  return stops;
}

/** A CSS linear-gradient of legend stops; `hard`: flat bands, one per stop (discretized). */
export function gradientCss(stops, hard = false) {
  const pct = (v) => `${(Math.max(0, Math.min(1, v)) * 100).toFixed(1)}%`;
  const half = stops.length > 1 ? 0.5 / (stops.length - 1) : 0.5;
  const parts = hard ? stops.map((s) => `${css(s.rgb)} ${pct(s.at - half)} ${pct(s.at + half)}`)
    : stops.map((s) => `${css(s.rgb)} ${pct(s.at)}`);
  return `linear-gradient(90deg, ${parts.join(', ')})`;
}
