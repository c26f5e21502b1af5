// The arithmetic of the Try panel (try-onnx.js), apart from the page: which input a model takes,
// drawing on a grid, text as character ids, softmax, and whether two outputs agree. Pure.

export const AGREE = 1e-4; // |browser - server| below this on every output: they agree

/** How the panel feeds a model: 'plane' (click a point), 'grid' (draw on [C, H, W]), 'text'
 * (type a prompt) or 'random'. dims: the input's shape without its batch axis. */
export function inputKind(dims, datasetName) {
  if (datasetName === 'text' && dims.length === 1) return 'text';
  if (dims.length === 1 && dims[0] === 2) return 'plane';
  if (dims.length === 3 && (dims[0] === 1 || dims[0] === 3) && dims[1] >= 4 && dims[1] <= 64 && dims[2] >= 4 && dims[2] <= 64) return 'grid';
  return 'random';
}

/** The input's shape without its batch axis, from onnxruntime-web's inputMetadata or a fallback
 * (a dimension that is not a number, a named one, is the batch or unknown: 1). */
export function featureDims(shape) {
  return (shape || []).slice(1).map((d) => (Number.isInteger(d) && d > 0 ? d : 1));
}

/** Paint a soft round brush into a grid of values in 0..1 (h x w) at cell (r, c). */
export function paint(grid, h, w, r, c, { strength = 1, radius = null } = {}) {
  const rad = radius ?? Math.max(0.6, Math.min(h, w) / 14);
  const reach = Math.ceil(rad + 1);
  for (let y = Math.max(0, r - reach); y <= Math.min(h - 1, r + reach); y += 1) {
    for (let x = Math.max(0, c - reach); x <= Math.min(w - 1, c + reach); x += 1) {
      const d = Math.hypot(y - r, x - c);
      const add = strength * Math.max(0, 1 - d / (rad + 1));
      grid[y * w + x] = Math.min(1, grid[y * w + x] + add);
    }
  }
  return grid;
}

/** A grey grid (h*w) as the model's [C, H, W] input, the grey repeated in each channel. */
export function gridInput(grid, channels) {
  const out = new Float32Array(grid.length * channels);
  for (let k = 0; k < channels; k += 1) out.set(grid, k * grid.length);
  return out;
}

/** A prompt as the last `seqLen` character ids (the vocabulary's indices, as floats), padded on
 * the left with spaces (or the first character); characters not in the vocabulary are dropped.
 * Returns {ids, used, dropped}. */
export function encodeWindow(prompt, vocab, seqLen) {
  const index = new Map(vocab.map((ch, i) => [ch, i]));
  const chars = [...String(prompt)];
  const kept = chars.filter((ch) => index.has(ch));
  const tail = kept.slice(-seqLen);
  const pad = index.has(' ') ? index.get(' ') : 0;
  const ids = new Float32Array(seqLen).fill(pad);
  tail.forEach((ch, i) => { ids[seqLen - tail.length + i] = index.get(ch); });
  return { ids, used: tail.join(''), dropped: chars.length - kept.length };
}

/** The window moved on by one character id. */
export function shifted(ids, next) {
  const out = new Float32Array(ids.length);
  out.set(ids.subarray(1));
  out[ids.length - 1] = next;
  return out;
}

export function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i += 1) if (values[i] > values[best]) best = i;
  return best;
}

export function softmax(values) {
  const top = Math.max(...values);
  const e = Array.from(values, (v) => Math.exp(v - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** Largest |a - b| over two flat outputs (Infinity when their sizes differ). */
export function maxAbsDiff(a, b) {
  if (!a || !b || a.length !== b.length) return Infinity;
  let most = 0;
  for (let i = 0; i < a.length; i += 1) most = Math.max(most, Math.abs(a[i] - b[i]));
  return most;
}

/** "agrees (max |diff| 3e-7)" or "differs (max |diff| 0.2)": {agrees, text}. */
export function verdict(diff, tolerance = AGREE) {
  const agrees = Number.isFinite(diff) && diff <= tolerance;
  return { agrees, text: `${agrees ? 'agrees' : 'differs'} (max |diff| ${diffText(diff)})` };
}

/** A difference in two significant digits: 3e-7, 1.2e-5, 0.25, 0 (n/a when there is none). */
export function diffText(diff) {
  if (!Number.isFinite(diff)) return 'n/a';
  if (diff === 0) return '0';
  if (diff >= 1e-3) return String(Number(diff.toPrecision(2)));
  return diff.toExponential(1).replace('.0e', 'e');
}

/** A flat array (row-major) as nested lists of `shape`, for JSON. */
export function nested(flat, shape) {
  if (shape.length <= 1) return Array.from(flat, Number);
  const step = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0] }, (_, i) => nested(flat.subarray(i * step, (i + 1) * step), shape.slice(1)));
}

/** Nested lists flattened (the server's output). */
export function flatten(value) {
  return Array.isArray(value) ? value.flatMap(flatten) : [Number(value)];
}

/** Standard normal values (Box-Muller) from a seeded generator: a random input that repeats. */
export function randomInput(size, seed = 1) {
  let s = seed >>> 0 || 1;
  const next = () => { s = (s * 1664525 + 1013904223) >>> 0; return (s + 0.5) / 2 ** 32; };
  const out = new Float32Array(size);
  for (let i = 0; i < size; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const t = 2 * Math.PI * next();
    out[i] = r * Math.cos(t);
    if (i + 1 < size) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** Milliseconds as a short text: 0.042 -> "0.042 ms", 12.3 -> "12.3 ms", 1500 -> "1.5 s". */
export function msText(ms) {
  if (!Number.isFinite(ms)) return '–';
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  return `${ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toPrecision(2)} ms`;
}
