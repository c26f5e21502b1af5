// Gradient norms per layer over training, from run_health frames, for the health chart. Pure.

export const LAYER_COLOURS = ['#2563eb', '#ea580c', '#16a34a', '#9333ea', '#db2777', '#0891b2',
  '#ca8a04', '#4f46e5', '#dc2626', '#0d9488', '#7c3aed', '#65a30d'];

/** Badge names in words, what they mean and (from the server) what to try. */
export const BADGES = {
  vanishing: { title: 'Vanishing gradients', glyph: '∇', means: 'Gradients barely reach this layer.' },
  exploding: { title: 'Exploding gradients', glyph: '↯', means: 'Gradients here are huge.' },
  dead: { title: 'Dead ReLUs', glyph: '∅', means: 'Most units output zero for every sample.' },
};

/** One row per health frame: {step, norms: {layer: norm}}; thinned to at most `limit` rows. */
export class HealthHistory {
  constructor(limit = 600) {
    this.limit = Math.max(4, limit);
    this.rows = [];
    this.layers = []; // layer ids in first-seen order (the chart's series)
  }

  clear() {
    this.rows = [];
    this.layers = [];
  }

  /** Add a run_health frame (or a seek's health); a step already held is replaced. */
  push(frame) {
    if (!frame || typeof frame.step !== 'number' || !frame.gradients) return false;
    for (const id of Object.keys(frame.gradients)) if (!this.layers.includes(id)) this.layers.push(id);
    const row = { step: frame.step, norms: { ...frame.gradients } };
    const last = this.rows[this.rows.length - 1];
    if (!last || last.step < row.step) this.rows.push(row);
    else {
      const i = this.rows.findIndex((r) => r.step >= row.step);
      if (this.rows[i].step === row.step) this.rows[i] = row;
      else this.rows.splice(i, 0, row);
    }
    if (this.rows.length > this.limit) {
      const end = this.rows.pop(); // keep the newest; drop every other of the rest
      this.rows = this.rows.filter((_, i) => i % 2 === 0);
      this.rows.push(end);
    }
    return true;
  }

  get length() {
    return this.rows.length;
  }

  /** uPlot data: [steps, ...one column per layer]; a norm <= 0 or missing is a gap (log scale). */
  data() {
    const steps = this.rows.map((r) => r.step);
    const cols = this.layers.map((id) => this.rows.map((r) => {
      const v = r.norms[id];
      return typeof v === 'number' && v > 0 && Number.isFinite(v) ? v : null;
    }));
    return [steps, ...cols];
  }

  /** The newest norm of each layer: {id: norm}. */
  latest() {
    const out = {};
    for (const id of this.layers) {
      for (let i = this.rows.length - 1; i >= 0; i -= 1) {
        const v = this.rows[i].norms[id];
        if (typeof v === 'number') { out[id] = v; break; }
      }
    }
    return out;
  }
}

/** The flagged nodes of a run_health frame: [{id, badges, hints, grad_norm, dead_fraction}]. */
export function flagged(frame) {
  return Object.entries(frame?.nodes || {})
    .filter(([, info]) => info.badges?.length)
    .map(([id, info]) => ({ id, ...info }));
}

/** The measurement behind a node's badges, in words: "gradient norm 3.1e-9", "64% of units dead". */
export function measureText(info, fmt = (v) => v.toPrecision(2)) {
  const parts = [];
  if (typeof info?.grad_norm === 'number') parts.push(`gradient norm ${fmt(info.grad_norm)}`);
  if (typeof info?.dead_fraction === 'number') parts.push(`${Math.round(info.dead_fraction * 100)}% of units dead`);
  return parts.join(' · ');
}
