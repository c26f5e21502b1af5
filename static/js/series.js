// Metric history as columns, TensorBoard-style smoothing and min/max decimation. Pure.

/** Columns every table has from the start (a supervised run's); any other metric a point
 * carries (a gan's d_loss, g_loss, ...) gets its column when it first arrives. */
export const COLUMNS = ['train_loss', 'val_loss', 'train_accuracy', 'val_accuracy', 'lr'];
// Kept apart: every point has them (t_wall: the worker's clock, for measuring latency).
const AXES = new Set(['step', 'epoch', 'time', 't_wall']);

class Column {
  constructor(capacity) {
    this.data = new Float64Array(capacity).fill(NaN);
  }

  grow(capacity) {
    const next = new Float64Array(capacity).fill(NaN);
    next.set(this.data);
    this.data = next;
  }
}

/** Every run_metrics point received, one row per point, columns as Float64Arrays (NaN = absent). */
export class MetricTable {
  constructor(capacity = 1024) {
    this.length = 0;
    this.capacity = capacity;
    this.step = new Column(capacity);
    this.epoch = new Column(capacity);
    this.time = new Column(capacity);
    this.cols = {};
    this.counts = {};
    // A metric sent as null is one the server found NaN or infinite: the caption says "—".
    this.gaps = {};
    for (const c of COLUMNS) this.addColumn(c);
    // Rates whose changes are marked on the charts (a gan has two): name -> [{step, value, from}].
    this.changes = {};
    this.lastRate = {};
    this.setMarked(['lr']);
    // The run's phases in order (a deep belief net's pre-training, layer by layer, then its
    // fine-tuning): [{phase, layer, first, last}] (steps), from the points' `phase` and `layer`.
    this.phases = [];
    this.rowPhase = []; // each row's phase word (null where the point named none)
    // Metrics sent with a `layer` (reconstruction_error): name -> {phase, layers: [id]}; each
    // layer's values also go to the column `name@layer`, one line per layer.
    this.layered = new Map();
  }

  clear() {
    const marked = [...this.marked];
    Object.assign(this, new MetricTable(1024));
    this.setMarked(marked);
  }

  addColumn(name) {
    this.cols[name] = new Column(this.capacity);
    this.counts[name] = 0;
    this.gaps[name] = false;
  }

  /** The columns whose changes are kept (learning rates), read again from the rows so far. */
  setMarked(names) {
    this.marked = new Set(names);
    this.changes = {};
    this.lastRate = {};
    for (const name of this.marked) {
      this.changes[name] = [];
      this.lastRate[name] = null;
      const d = this.cols[name]?.data;
      for (let i = 0; d && i < this.length; i += 1) this.track(name, this.step.data[i], d[i]);
    }
  }

  track(name, step, v) {
    if (!Number.isFinite(v)) return;
    const last = this.lastRate[name];
    if (last !== null && Math.abs(v - last) > 1e-12 * Math.abs(last)) {
      this.changes[name].push({ step, lr: v, value: v, from: last });
    }
    this.lastRate[name] = v;
  }

  /** Learning-rate changes of the `lr` column: [{step, lr, from}]. */
  get lrChanges() {
    return this.changes.lr || [];
  }

  get lastLr() {
    return this.lastRate.lr ?? null;
  }

  ensure(n) {
    if (n <= this.capacity) return;
    let cap = this.capacity;
    while (cap < n) cap *= 2;
    for (const col of [this.step, this.epoch, this.time, ...Object.values(this.cols)]) col.grow(cap);
    this.capacity = cap;
  }

  /** Append points [{step, epoch, time, train_loss, val_loss?, ...}] in arrival order. */
  push(points) {
    this.ensure(this.length + points.length);
    for (const p of points) {
      const i = this.length;
      this.step.data[i] = typeof p.step === 'number' ? p.step : NaN;
      this.epoch.data[i] = typeof p.epoch === 'number' ? p.epoch : NaN;
      this.time.data[i] = typeof p.time === 'number' ? p.time : NaN;
      const layer = typeof p.layer === 'string' && p.layer ? p.layer : null;
      this.notePhase(p, layer);
      for (const [c, v] of Object.entries(p)) {
        if (AXES.has(c) || (v !== null && typeof v !== 'number')) continue; // words: phase, layer
        this.set(c, i, v);
        if (this.marked.has(c)) this.track(c, p.step, v);
        else if (layer) this.set(this.layerColumn(c, layer, p.phase), i, v);
      }
      this.length += 1;
    }
  }

  set(c, i, v) {
    if (!this.cols[c]) this.addColumn(c);
    if (typeof v === 'number' && Number.isFinite(v)) {
      this.cols[c].data[i] = v;
      this.counts[c] += 1;
      this.gaps[c] = false;
    } else this.gaps[c] = true;
  }

  notePhase(p, layer) {
    const phase = typeof p.phase === 'string' && p.phase ? p.phase : null;
    this.rowPhase.push(phase);
    if (!phase) return;
    const last = this.phases[this.phases.length - 1];
    if (last && last.phase === phase && last.layer === layer) last.last = p.step;
    else this.phases.push({ phase, layer, first: p.step, last: p.step });
  }

  /** The column of one layer's values of a metric (`reconstruction_error@h1`). */
  layerColumn(name, layer, phase) {
    if (!this.layered.has(name)) this.layered.set(name, { phase: typeof phase === 'string' ? phase : null, layers: [] });
    const entry = this.layered.get(name);
    if (!entry.layers.includes(layer)) entry.layers.push(layer);
    return `${name}@${layer}`;
  }

  /** The phase of the newest point ({phase, layer, first, last}), or null. */
  get phase() {
    return this.rowPhase[this.length - 1] ? this.phases[this.phases.length - 1] : null;
  }

  /** A column's values (all NaN for a metric no point carried). */
  column(name) {
    if (!this.cols[name]) return new Float64Array(this.length).fill(NaN);
    return this.cols[name].data.subarray(0, this.length);
  }

  /** How many finite values a column holds. */
  count(name) {
    return this.counts[name] || 0;
  }

  steps() {
    return this.step.data.subarray(0, this.length);
  }

  /** The latest finite value of a column, or null. */
  last(name) {
    const d = this.cols[name]?.data;
    for (let i = this.length - 1; d && i >= 0; i -= 1) if (Number.isFinite(d[i])) return d[i];
    return null;
  }

  /** The newest finite value of a column at or before `step`: {value, step}, or null. */
  lastAt(name, step) {
    const d = this.cols[name]?.data;
    const s = this.step.data;
    for (let i = this.length - 1; d && i >= 0; i -= 1) {
      if (Number.isFinite(d[i]) && !(s[i] > step)) return { value: d[i], step: s[i] };
    }
    return null;
  }

  /** Was the newest value sent for this column null (non-finite on the server)? */
  lastIsGap(name) {
    return Boolean(this.gaps[name]);
  }

  /** Is a column sparse (validation-only values, like val_loss or a gan's mmd)? */
  sparse(name) {
    return this.count(name) * 2 < this.length;
  }

  /** The last row as a plain object. */
  lastRow() {
    if (!this.length) return null;
    const i = this.length - 1;
    return { step: this.step.data[i], epoch: this.epoch.data[i], time: this.time.data[i] };
  }
}
/** TensorBoard's debiased exponential moving average; NaN entries stay NaN. */
export function ema(values, weight) {
  const out = new Float64Array(values.length);
  if (weight <= 0) {
    out.set(values);
    return out;
  }
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out[i] = NaN;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    n += 1;
    out[i] = last / (1 - weight ** n);
  }
  return out;
}

/**
 * Row indices to draw so that `buckets` columns of pixels keep every peak and dip: per bucket
 * of x, the rows holding the min and max of each dense series; sparse series (fewer than
 * `buckets` values) keep all their rows. Returns a sorted Int32Array.
 */
export function decimate(xs, series, buckets) {
  const n = xs.length;
  if (n <= buckets * 2) return Int32Array.from({ length: n }, (_, i) => i);
  const x0 = xs[0];
  const span = xs[n - 1] - x0 || 1;
  const keep = new Uint8Array(n);
  keep[0] = 1;
  keep[n - 1] = 1;
  for (const ys of series) {
    let finite = 0;
    for (let i = 0; i < n; i += 1) if (Number.isFinite(ys[i])) finite += 1;
    if (finite <= buckets) {
      for (let i = 0; i < n; i += 1) if (Number.isFinite(ys[i])) keep[i] = 1;
      continue;
    }
    let bucket = -1; let lo = -1; let hi = -1;
    const flush = () => {
      if (lo >= 0) keep[lo] = 1;
      if (hi >= 0) keep[hi] = 1;
    };
    for (let i = 0; i < n; i += 1) {
      const b = Math.min(buckets - 1, Math.floor(((xs[i] - x0) / span) * buckets));
      if (b !== bucket) {
        flush();
        bucket = b; lo = -1; hi = -1;
      }
      const v = ys[i];
      if (!Number.isFinite(v)) continue;
      if (lo < 0 || v < ys[lo]) lo = i;
      if (hi < 0 || v > ys[hi]) hi = i;
    }
    flush();
  }
  let count = 0;
  for (let i = 0; i < n; i += 1) count += keep[i];
  const out = new Int32Array(count);
  for (let i = 0, j = 0; i < n; i += 1) if (keep[i]) out[j++] = i;
  return out;
}

/** Gather arrays at indices; NaN becomes null (a gap uPlot understands). */
export function gather(indices, arrays) {
  return arrays.map((arr) => {
    const out = new Array(indices.length);
    for (let j = 0; j < indices.length; j += 1) {
      const v = arr[indices[j]];
      out[j] = Number.isFinite(v) ? v : null;
    }
    return out;
  });
}
