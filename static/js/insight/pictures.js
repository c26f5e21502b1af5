// The arithmetic behind the enlarged pictures: grids of tiles, one tile's values, weight
// matrices and edges, histograms, confusion matrices and the fixed samples. Pure.

import { bytesOf, tiling, valueOf } from '../node-viz.js';

/** The largest square tiles that lay n tiles out in width x height: {cols, rows, tile}. */
export function fitGrid(n, width, height, { gap = 4, max = 120 } = {}) {
  let best = { cols: 1, rows: Math.max(1, n), tile: 0 };
  for (let cols = 1; cols <= Math.max(1, n); cols += 1) {
    const rows = Math.ceil(n / cols);
    const tile = Math.min(max, (width - gap * (cols - 1)) / cols, (height - gap * (rows - 1)) / rows);
    if (tile >= best.tile) best = { cols, rows, tile }; // on a tie the wider, shorter grid
  }
  return { ...best, tile: Math.max(1, Math.floor(best.tile)) };
}

/** |largest value| of a frame: the diverging scale's full colour. */
export function frameScale(frame) {
  return Math.max(Math.abs(frame.min ?? 0), Math.abs(frame.max ?? 0)) || 1;
}

/**
 * A colour scale for weights that a few large ones do not wash out: 2.5 times their root mean
 * square, at most the largest.
 */
export function robustScale(frame) {
  const bytes = bytesOf(frame.data);
  let sum = 0;
  for (const b of bytes) {
    const v = valueOf(frame, b);
    sum += v * v;
  }
  const rms = Math.sqrt(sum / (bytes.length || 1));
  return Math.min(frameScale(frame), 2.5 * rms) || 1;
}

/** Tile t of an activation frame as {h, w, values} (dequantized, row-major). */
export function tileOf(frame, t) {
  const bytes = bytesOf(frame.data);
  const { tiles, h, w, transpose } = tiling(frame);
  const values = new Float32Array(h * w);
  for (let i = 0; i < h * w; i += 1) {
    const idx = transpose ? (i % w) * tiles + t : t * h * w + i;
    values[i] = valueOf(frame, bytes[idx] ?? 0);
  }
  return { h, w, values };
}

/**
 * A frame drawn as one heat map of rows: a sequence [T, H] as units (rows) over time
 * (columns); a 1-D conv's maps [T, C] as channels over time. {rows, cols, at(r, c)}.
 */
export function rowsOf(frame) {
  const bytes = bytesOf(frame.data);
  const [T, F] = frame.shape;
  return { rows: F, cols: T, at: (r, c) => valueOf(frame, bytes[c * F + r] ?? 0) };
}

/** How an activation frame is drawn in the enlarged view: tiles, rows (heat map) or bars. */
export function layoutKind(frame) {
  const s = frame?.shape || [];
  if ((frame.kind === 'plane' || frame.kind === 'maps') && s.length === 3) return 'tiles';
  if (s.length === 2) return 'rows';
  return 'bars';
}

/** Values of a flat frame (kind "units"). */
export function valuesOf(frame) {
  const bytes = bytesOf(frame.data);
  return Float32Array.from(bytes, (b) => valueOf(frame, b));
}

/**
 * A weight matrix [out, in] laid out with its longer side across: {rows, cols, at(r, c),
 * rowLabel, colLabel}.
 */
export function matrixOf(frame) {
  const bytes = bytesOf(frame.data);
  const [out, inp] = frame.shape;
  const across = inp >= out; // inputs across the page, units down (as PyTorch stores it)
  return {
    rows: across ? out : inp,
    cols: across ? inp : out,
    at: (r, c) => valueOf(frame, bytes[across ? r * inp + c : c * inp + r] ?? 0),
    rowLabel: across ? 'units' : 'inputs',
    colLabel: across ? 'inputs' : 'units',
  };
}

/** Is a weight matrix small enough to draw as edges between units (TF Playground style)? */
export function drawsAsEdges(frame) {
  const [out, inp] = frame.shape || [];
  return frame.kind === 'matrix' && out * inp <= 256 && Math.max(out, inp) <= 32;
}

/** Edges of a small weight matrix, weakest first (the strongest are drawn on top). */
export function edgesOf(frame) {
  const bytes = bytesOf(frame.data);
  const [out, inp] = frame.shape;
  const edges = [];
  for (let o = 0; o < out; o += 1) {
    for (let i = 0; i < inp; i += 1) edges.push({ from: i, to: o, value: valueOf(frame, bytes[o * inp + i] ?? 0) });
  }
  return edges.sort((a, b) => Math.abs(a.value) - Math.abs(b.value));
}

/** Bars of a {min, max, counts} histogram: [{x0, x1, count}], and the largest count. */
export function histogramBars(hist) {
  const n = hist.counts.length;
  const span = (hist.max - hist.min) || 1;
  const bars = hist.counts.map((count, i) => ({ x0: hist.min + (i / n) * span, x1: hist.min + ((i + 1) / n) * span, count }));
  return { bars, top: Math.max(1, ...hist.counts) };
}

/** Totals of a confusion matrix (rows true, columns predicted). */
export function confusionSummary(confusion) {
  let total = 0;
  let correct = 0;
  const rowSums = confusion.map((row, i) => {
    const sum = row.reduce((a, b) => a + b, 0);
    total += sum;
    correct += row[i] ?? 0;
    return sum;
  });
  return { total, correct, accuracy: total ? correct / total : null, rowSums };
}

/** Share of a cell in its row (what a colour shows): 0..1. */
export function cellShare(confusion, r, c, rowSums) {
  return rowSums[r] ? confusion[r][c] / rowSums[r] : 0;
}

/** Sample image `index` of a run_samples frame [N, C, H, W]: {h, w, channels, values 0..1}. */
export function sampleImage(frame, index) {
  const [, c, h, w] = frame.shape;
  const bytes = bytesOf(frame.data);
  const size = c * h * w;
  const values = new Float32Array(size);
  let lo = 255;
  let hi = 0;
  for (let i = 0; i < size; i += 1) {
    const b = bytes[index * size + i] ?? 0;
    lo = Math.min(lo, b); hi = Math.max(hi, b);
  }
  for (let i = 0; i < size; i += 1) values[i] = ((bytes[index * size + i] ?? 0) - lo) / (hi - lo || 1);
  return { h, w, channels: c, values };
}

/**
 * The fixed validation samples of a run_samples payload, whatever the data:
 * {kind: 'points' | 'images' | 'sequences' | 'vectors', count, points, extent, frame, labels,
 * targets, classes} (missing parts null), or null. A payload saved before samples had a kind
 * (images only: {frame}) reads as images.
 */
export function sampleSet(msg) {
  const frame = msg?.frame || null;
  const kind = msg?.kind || (frame?.shape?.length === 4 ? 'images' : null);
  if (!kind) return null;
  const points = kind === 'points' ? msg.points || [] : null;
  return {
    kind, points, frame,
    count: msg.count ?? (points ? points.length : frame?.shape?.[0] ?? 0),
    extent: msg.extent || null,
    labels: msg.labels || null,
    targets: msg.targets || null,
    classes: msg.classes || null,
  };
}

/** Number of fixed samples in a sampleSet (0 for none). */
export function sampleCount(set) {
  return set?.count || 0;
}

/**
 * Sample `index` of a [N, T, F] frame (sequences) or [N, F] frame (vectors) as
 * {steps, features, at(t, f)}, dequantized on the frame's shared scale.
 */
export function sampleSeries(frame, index) {
  const [, steps, features = 1] = frame.shape;
  const bytes = bytesOf(frame.data);
  const base = index * steps * features;
  return { steps, features, at: (t, f = 0) => valueOf(frame, bytes[base + t * features + f] ?? 0) };
}

/** Does a samples frame hold only its two ends, as bits do (parity's inputs)? */
export function isBinary(frame) {
  if (!(frame?.max > frame?.min)) return false;
  return bytesOf(frame.data).every((b) => b === 0 || b === 255);
}

/** What sample `index` is labelled: its class index, its first target value, or null. */
export function sampleTarget(set, index) {
  const label = set?.labels?.[index];
  if (label != null) return label;
  const target = set?.targets?.[index];
  return Array.isArray(target) ? target[0] ?? null : target ?? null;
}

/**
 * Sample `index` in words for a heading: "(0.32, -0.41) · class 1", "20 steps · next value
 * 0.42"; `names` are the class names.
 */
export function sampleText(set, index, names = set?.classes) {
  if (!set || index == null || index >= set.count) return '';
  const parts = [];
  if (set.kind === 'points') {
    const [x, y] = set.points[index];
    parts.push(`(${x.toFixed(2)}, ${y.toFixed(2)})`);
  } else if (set.kind === 'sequences') parts.push(`${set.frame.shape[1]} steps`);
  const label = set.labels?.[index];
  if (label != null) parts.push(`class ${names?.[label] ?? label}`);
  else if (set.targets?.[index]) {
    const values = set.targets[index].map((v) => Number(v).toPrecision(3)).join(', ');
    parts.push(`${set.kind === 'sequences' ? 'next value' : 'target'} ${values}`);
  }
  return parts.join(' · ');
}

/** Where a point lands in a w x h picture of the plane extent [x0, x1, y0, y1] (y up). */
export function planeXY([x, y], [x0, x1, y0, y1], w, h) {
  return [((x - x0) / (x1 - x0)) * w, h - ((y - y0) / (y1 - y0)) * h];
}

/** What an enlarged activation shows, in words; `plane` names the plane a gan's generator
 * units are drawn over ("noise"). */
export function kindText(frame, plane = 'input') {
  const n = frame.units ?? frame.shape?.[0];
  switch (frame.kind) {
    case 'plane': return `Each of ${n} units over the ${plane} plane`;
    case 'maps': return frame.shape?.length === 2 ? `${n} channels over time, for one sample` : `${n} feature maps of one sample`;
    case 'sequence': return `Hidden state over ${frame.shape?.[0]} time steps (${n} units), for one sample`;
    default: return `${n} unit values for one sample`;
  }
}
