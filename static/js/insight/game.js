// The arithmetic of a gan run's pictures (run_generated): gradient arrows scaled to read well,
// the generator's manifold as grid lines, sample images on the frame's own scale, and the
// game's words. Pure.

import { bytesOf } from '../node-viz.js';

export const ARROW_PX = 15; // a typical arrow (the 90th percentile of one frame) on a 340 px plot
export const ARROW_MAX = 2.2; // the longest arrow, in typical arrows
export const ARROW_FLOOR = 0.04; // below this share of the run's largest gradients arrows shrink

/** |(dx, dy)| of each gradient. */
export function magnitudes(gradients) {
  return (gradients || []).map((g) => Math.hypot(g?.[0] || 0, g?.[1] || 0)).filter(Number.isFinite);
}

/** The q-quantile (0..1) of numbers (0 for none). */
export function quantile(values, q) {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
}

/**
 * The gradient size an arrow of ARROW_PX stands for: this frame's 90th percentile, so every
 * frame reads; but never below ARROW_FLOOR of the largest seen this run (`peak`), so arrows
 * do shrink when the generator's gradients fade away. Returns {ref, peak} (peak updated).
 */
export function arrowScale(gradients, peak = 0) {
  const typical = quantile(magnitudes(gradients), 0.9);
  const top = Math.max(peak, typical);
  return { ref: Math.max(typical, top * ARROW_FLOOR) || 0, peak: top };
}

/**
 * Arrows in canvas pixels, one per generated point: from the point along its gradient (y up
 * in the data, down on the canvas), ARROW_PX for a gradient of size `ref`, at most ARROW_MAX
 * times that. toCanvas([x, y]) -> [px, py]. [{x0, y0, x1, y1, len}], arrows under 1 px left out.
 */
export function arrowSegments(points, gradients, { toCanvas, ref, px = ARROW_PX }) {
  const out = [];
  if (!(ref > 0)) return out;
  (points || []).forEach((p, i) => {
    const g = gradients?.[i];
    if (!p || !g) return;
    const m = Math.hypot(g[0], g[1]);
    if (!Number.isFinite(m) || m === 0) return;
    const len = Math.min(px * ARROW_MAX, (m / ref) * px);
    if (len < 1) return;
    const [x0, y0] = toCanvas(p);
    out.push({ x0, y0, x1: x0 + (g[0] / m) * len, y1: y0 - (g[1] / m) * len, len });
  });
  return out;
}

/** The two strokes of an arrow's head at (x1, y1): [[x, y], [x, y]], sized to the arrow. */
export function arrowHead({ x0, y0, x1, y1, len }, size = 3.8) {
  const s = Math.min(size, len * 0.45);
  const a = Math.atan2(y1 - y0, x1 - x0);
  return [0.5, -0.5].map((d) => [x1 - s * Math.cos(a + d), y1 - s * Math.sin(a + d)]);
}

/**
 * The generator's manifold as polylines in data coordinates: the image of a noise grid
 * ({size: [rows, cols], points: rows*cols, row-major}) drawn as its rows and its columns; a
 * size of [1, n] is one line. Lines of fewer than two points are left out.
 */
export function manifoldLines(manifold) {
  const [rows, cols] = manifold?.size || [];
  const pts = manifold?.points || [];
  if (!(rows > 0 && cols > 0) || pts.length < rows * cols) return [];
  const lines = [];
  if (cols > 1) for (let r = 0; r < rows; r += 1) lines.push(pts.slice(r * cols, (r + 1) * cols));
  if (rows > 1) for (let c = 0; c < cols; c += 1) lines.push(Array.from({ length: rows }, (_, r) => pts[r * cols + c]));
  return lines;
}

/** Sample `index` of a [N, C, H, W] uint8 frame on the frame's own scale (no stretch per
 * sample: a washed-out sample stays washed out). {h, w, channels, values 0..1}. */
export function generatedImage(frame, index) {
  const [, c, h, w] = frame.shape;
  const bytes = bytesOf(frame.data);
  const size = c * h * w;
  const values = new Float32Array(size);
  for (let i = 0; i < size; i += 1) values[i] = (bytes[index * size + i] ?? 0) / 255;
  return { h, w, channels: c, values };
}

/** How a generated frame is laid out: a square-ish grid of `n` tiles, 8 x 8 for 64. */
export function sampleGrid(n, side, gap = 2) {
  const cols = Math.max(1, Math.ceil(Math.sqrt(n)));
  const rows = Math.max(1, Math.ceil(n / cols));
  const tile = Math.max(1, Math.floor((side - gap * (cols - 1)) / cols));
  return { cols, rows, tile, gap };
}

/** How many points lie outside the extent [x0, x1, y0, y1] drawn. */
export function outside(points, [x0, x1, y0, y1]) {
  return (points || []).filter(([x, y]) => !(x >= x0 && x <= x1 && y >= y0 && y <= y1)).length;
}

export const BADGE_HOLD_MS = 4000; // a badge stays this long after the last frame that had it

/**
 * The badges to show now: those of the newest frame, and those an earlier frame had within
 * BADGE_HOLD_MS (a game near a threshold would make a badge blink). `held`: Map id -> {badge,
 * seen}, updated in place. In the order first seen.
 */
export function holdBadges(held, badges, now) {
  for (const b of badges || []) if (b?.id) held.set(b.id, { badge: b, seen: now });
  for (const [id, h] of held) if (now - h.seen > BADGE_HOLD_MS) held.delete(id);
  return [...held.values()].map((h) => h.badge);
}

/** The game's badges as a key (the cards are rebuilt only when it changes). */
export function badgeKey(badges) {
  return (badges || []).map((b) => `${b.id}|${b.message}`).join('\n');
}

/** "Step 1,200 · MMD 0.0123": what the frame shows, in words. */
export function gameText(frame, { metric }) {
  if (!frame) return '';
  const parts = [`Step ${Number(frame.step || 0).toLocaleString('en-US')}`];
  if (typeof frame.mmd === 'number') parts.push(`MMD ${metric(frame.mmd)}`);
  return parts.join(' · ');
}
