// Earlier runs of one design, side by side: their settings in words, what differs from this run,
// how each started (pre-trained as a deep belief net, or from random weights), and their loss
// curves as one uPlot table, counted from the start of fine-tuning. Pure.

import { metric, percent } from '../format.js';
import { ema } from '../series.js';

export const RUN_COLOURS = ['#ea580c', '#16a34a', '#9333ea', '#db2777', '#0891b2', '#ca8a04',
  '#dc2626', '#4f46e5'];

/** Settings always shown; the others only where two runs differ. */
export const CORE = new Set(['optimizer', 'lr', 'g_lr', 'batch', 'length']);

/** A run's training settings worth comparing: [{key, text}]. */
export function settingsOf(training) {
  const t = training || {};
  const o = t.optimizer || {};
  const d = t.dataset || {};
  const out = [];
  const add = (key, text) => { if (text) out.push({ key, text }); };
  const gan = t.gan || null; // a gan's game: the generator's own optimizer and the step ratio
  const go = gan?.generator_optimizer || {};
  add('optimizer', o.name);
  add('lr', typeof o.lr === 'number' ? `${gan ? 'D lr' : 'lr'} ${metric(o.lr)}` : null);
  if (gan) {
    add('g_lr', typeof go.lr === 'number' ? `G lr ${metric(go.lr)}` : null);
    if (go.name && go.name !== o.name) add('g_optimizer', `G ${go.name}`);
    if (gan.loss && gan.loss !== 'log') add('gan_loss', `${gan.loss.replace('_', ' ')} loss`);
    if ((gan.d_steps ?? 1) !== 1 || (gan.g_steps ?? 1) !== 1) add('k', `${gan.d_steps ?? 1}:${gan.g_steps ?? 1} steps`);
  }
  const rbm = t.pretrain?.method && t.pretrain.method !== 'none' ? t.pretrain : null;
  if (rbm) {
    add('pretrain', [`${rbm.method.toUpperCase()}${rbm.epochs != null ? ` ${rbm.epochs} epochs` : ''}`,
      rbm.k != null ? `CD-${rbm.k}` : null, rbm.lr != null ? `lr ${metric(rbm.lr)}` : null].filter(Boolean).join(', '));
  }
  if (t.init?.run || t.init?.weights) add('init', initText(t));
  if (o.momentum) add('momentum', `momentum ${metric(o.momentum)}`);
  if (o.weight_decay) add('weight_decay', `decay ${metric(o.weight_decay)}`);
  if (o.grad_clip) add('grad_clip', `clip ${metric(o.grad_clip)}`);
  add('batch', t.batch_size ? `batch ${t.batch_size}` : null);
  add('length', t.epochs ? `${t.epochs} epochs` : t.steps ? `${t.steps} steps` : 'until stopped');
  if (t.loss && t.loss !== 'auto') add('loss', t.loss);
  const extra = Object.entries(d).filter(([k]) => !['name', 'seed', 'upload'].includes(k))
    .map(([k, v]) => `${k} ${v}`).join(', ');
  add('dataset', d.name ? `${d.name}${extra ? ` (${extra})` : ''}` : null);
  if (typeof t.seed === 'number') add('seed', `seed ${t.seed}`);
  return out;
}

/** How a run's weights started: "pre-trained (RBM)" (a deep belief net), "random initialisation",
 * or from an earlier run's or uploaded weights (training.init). */
export function initText(training) {
  const t = training || {};
  const method = t.pretrain?.method;
  if (method && method !== 'none') return `pre-trained (${method.toUpperCase()})`;
  if (t.init?.run) return `from run ${t.init.run}'s weights`;
  if (t.init?.weights) return 'from uploaded weights';
  return 'random initialisation';
}

/** Keys whose setting differs between two training sections. */
export function settingsDiff(a, b) {
  const mine = new Map(settingsOf(a).map((s) => [s.key, s.text]));
  const theirs = new Map(settingsOf(b).map((s) => [s.key, s.text]));
  const keys = new Set([...mine.keys(), ...theirs.keys()]);
  return new Set([...keys].filter((k) => mine.get(k) !== theirs.get(k)));
}

/** "val loss 0.023 · 99.3%" from a run summary; a gan's "MMD 0.012 (from 0.84)". */
export function resultText(summary) {
  if (!summary) return '';
  const parts = [];
  if (typeof summary.mmd === 'number' || 'g_loss' in summary) {
    if (typeof summary.mmd === 'number') {
      parts.push(`MMD ${metric(summary.mmd)}${typeof summary.mmd_initial === 'number' ? ` (from ${metric(summary.mmd_initial)})` : ''}`);
    }
    if (typeof summary.d_real === 'number' && typeof summary.d_fake === 'number') {
      parts.push(`D(real) ${percent(summary.d_real)}, D(fake) ${percent(summary.d_fake)}`);
    }
    return parts.join(' · ');
  }
  if (typeof summary.val_loss === 'number') parts.push(`val loss ${metric(summary.val_loss)}`);
  else if (summary.val_loss === null) parts.push('val loss —'); // non-finite on the server
  else if (typeof summary.train_loss === 'number') parts.push(`loss ${metric(summary.train_loss)}`);
  if (typeof summary.val_accuracy === 'number') parts.push(percent(summary.val_accuracy));
  return parts.join(' · ');
}

/** "just now", "12 min ago", "3 h ago", "2 days ago" from epoch seconds. */
export function ago(seconds, now = Date.now() / 1000) {
  const d = Math.max(0, now - seconds);
  if (d < 60) return 'just now';
  if (d < 3600) return `${Math.round(d / 60)} min ago`;
  if (d < 86400) return `${Math.round(d / 3600)} h ago`;
  return `${Math.round(d / 86400)} days ago`;
}

/** The step a history's phases before fine-tuning end at (a deep belief net's pre-training); 0 without. */
export function fineTuneStart(history) {
  let start = 0;
  for (const p of history || []) if (typeof p.phase === 'string' && p.phase !== 'train') start = p.step;
  return start;
}

/**
 * One loss curve from a history: {x, y, offset} of `column` (smoothed with `smoothing` when the
 * column is in most points, like train_loss or a gan's d_loss; as it is when only validation
 * points hold it, like val_loss or mmd), at most `limit` points (evenly thinned). Steps count
 * from the start of fine-tuning: a pre-trained run's curve starts where a random one's does
 * (`offset`: the pre-training steps left out).
 */
export function lossCurve(history, { column = 'train_loss', smoothing = 0.6, limit = 600 } = {}) {
  const all = history || [];
  const offset = fineTuneStart(all);
  const rows = all.filter((p) => typeof p[column] === 'number' && Number.isFinite(p[column]) && p.step >= offset);
  const xs = rows.map((p) => p.step - offset);
  let ys = rows.map((p) => p[column]);
  if (rows.length * 2 >= all.length && smoothing > 0) ys = Array.from(ema(Float64Array.from(ys), smoothing));
  if (xs.length <= limit) return offset ? { x: xs, y: ys, offset } : { x: xs, y: ys };
  const keep = [];
  for (let i = 0; i < limit; i += 1) keep.push(Math.round((i / (limit - 1)) * (xs.length - 1)));
  const curve = { x: keep.map((i) => xs[i]), y: keep.map((i) => ys[i]) };
  return offset ? { ...curve, offset } : curve;
}

/** Curves [{x, y}] on one x axis (the union of steps): [xs, ys1, ys2, ...], null where absent. */
export function joinCurves(curves) {
  const steps = [...new Set(curves.flatMap((c) => c.x))].sort((a, b) => a - b);
  const index = new Map(steps.map((s, i) => [s, i]));
  const cols = curves.map((c) => {
    const col = new Array(steps.length).fill(null);
    c.x.forEach((s, i) => { col[index.get(s)] = c.y[i]; });
    return col;
  });
  return [steps, ...cols];
}
