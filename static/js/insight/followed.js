// The sample being followed through the network, under the enlarged layer: named in words
// (with the prediction for classifiers), its input over time for sequences (bits as cells),
// and the 32 fixed validation samples to pick from.

import { h, setAttr, setText } from '../dom.js';
import { metric } from '../format.js';
import { cssVar, label, paintBits, paintSeries, sampleColour, sampleThumb, sized } from './draw.js';
import { isBinary, sampleCount, sampleSeries, sampleText } from './pictures.js';

export class FollowedSample {
  /** onPick(index) is called when a sample of the strip is clicked. */
  constructor(root, { onPick = () => {} } = {}) {
    this.onPick = onPick;
    this.set = null;
    this.selected = null;
    this.title = h('h3', { class: 'insight-h il-followed' });
    this.sequence = h('canvas', { class: 'il-sequence', 'aria-label': 'The followed sample\'s input sequence', hidden: true });
    this.strip = h('div', { class: 'il-strip', role: 'listbox', 'aria-label': 'Validation samples to follow' });
    this.note = h('p', { class: 'insight-caption' });
    root.append(this.title, this.sequence, this.strip, this.note);
  }

  /** Draw for {set, selected (null: unknown), predictions, classes, canPick, note, width}. */
  draw({ set, selected, predictions, classes, canPick, note, width }) {
    Object.assign(this, { set, selected, classes, width });
    const n = sampleCount(set);
    const followed = selected != null;
    const p = followed ? predictions?.find((q) => q.index === this.selected) : null;
    const name = (k) => this.classes?.[k] ?? k;
    const what = followed ? sampleText(set, this.selected, this.classes) : '';
    const guess = p ? `, predicted ${name(p.pred)} (${Math.round(p.confidence * 100)}%)` : '';
    setText(this.title, followed ? `Following sample #${this.selected}${what ? `: ${what}` : ''}${guess}`
      : 'The sample the run’s owner follows');
    setAttr(this.title, 'data-sample', followed ? this.selected : null);
    this.drawSequence(followed);
    const size = set.kind === 'images' ? 20 : 24;
    if (this.strip.childElementCount !== n || this.stripFor !== set) {
      this.stripFor = set;
      this.strip.replaceChildren(...Array.from({ length: n }, (_, i) => {
        const item = h('button', { type: 'button', class: 'il-sample', role: 'option', dataset: { sample: i },
          'aria-label': `Sample ${i}`, title: `Sample #${i}: ${sampleText(set, i, this.classes)}` }, sampleThumb(set, i, size));
        item.addEventListener('click', () => this.onPick(i));
        return item;
      }));
    }
    for (const item of this.strip.children) {
      const on = Number(item.dataset.sample) === this.selected;
      setAttr(item, 'aria-selected', on ? 'true' : 'false');
      item.disabled = !canPick && !on;
    }
    setText(this.note, note);
  }

  /**
   * Sequences: the followed sample's input over time, on the scale all samples share, and the
   * value to predict after it (a hollow dot) when that is one number.
   */
  drawSequence(followed) {
    const { set } = this;
    this.sequence.hidden = !followed || set.kind !== 'sequences';
    if (this.sequence.hidden) return;
    const f = set.frame;
    const steps = f.shape[1];
    if (isBinary(f)) {
      this.drawBitSequence(f, steps);
      return;
    }
    const next = set.targets?.[this.selected]?.length === 1 ? set.targets[this.selected][0] : null;
    const w = this.width;
    const height = 76;
    const left = 46;
    const plot = height - 26; // the plot's height, from y = 4
    const ctx = sized(this.sequence, w, height);
    const lo0 = Math.min(f.min, next ?? f.min);
    const hi0 = Math.max(f.max, next ?? f.max);
    const pad = (hi0 - lo0 || 1) * 0.08;
    const [lo, hi] = [lo0 - pad, hi0 + pad];
    const y = (v) => 4 + plot - ((v - lo) / (hi - lo)) * plot;
    ctx.strokeStyle = cssVar('--border', '#ddd');
    ctx.lineWidth = 1;
    ctx.strokeRect(left + 0.5, 0.5, w - left - 1, height - 18);
    if (lo < 0 && hi > 0) {
      ctx.beginPath();
      ctx.moveTo(left, Math.round(y(0)) + 0.5);
      ctx.lineTo(w, Math.round(y(0)) + 0.5);
      ctx.stroke();
    }
    const colour = sampleColour(set, this.selected);
    const span = w - left - 14;
    const stepW = span / (next == null ? Math.max(1, steps - 1) : steps);
    paintSeries(ctx, sampleSeries(f, this.selected), lo, hi, left + 7, 4, stepW * (steps - 1), plot, { colour, width: 2 });
    if (next != null) {
      ctx.beginPath();
      ctx.arc(left + 7 + stepW * steps, y(next), 3.5, 0, Math.PI * 2);
      ctx.lineWidth = 2;
      ctx.strokeStyle = colour;
      ctx.stroke();
    }
    label(ctx, metric(hi0), left - 5, y(hi0), { align: 'right', size: 10.5 });
    label(ctx, metric(lo0), left - 5, y(lo0), { align: 'right', size: 10.5 });
    label(ctx, 'input, t = 1', left, height - 7, { size: 10.5 });
    label(ctx, next == null ? `${steps} →` : `${steps} · next ○`, w, height - 7, { size: 10.5, align: 'right' });
  }

  /** Bits (parity): one cell per step, the digit in it. */
  drawBitSequence(f, steps) {
    const w = this.width;
    const height = 48;
    const ctx = sized(this.sequence, w, height);
    const colour = sampleColour(this.set, this.selected);
    const cell = Math.min(34, w / steps);
    paintBits(ctx, sampleSeries(f, this.selected), 0, 2, cell * steps, 26, { colour, digits: true });
    label(ctx, 'input, t = 1', 0, height - 7, { size: 10.5 });
    label(ctx, `${steps} →`, cell * steps, height - 7, { size: 10.5, align: 'right' });
  }
}
