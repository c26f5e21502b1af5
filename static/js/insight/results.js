// Classification results on the validation set: the confusion matrix (rows: true class, columns:
// predicted) and the fixed validation samples with their predictions, mistakes first. A sample
// can be clicked to follow it through the network.

import { h, setAttr, setText } from '../dom.js';
import { percent } from '../format.js';
import { onScreen, sampleThumb } from './draw.js';
import { cellShare, confusionSummary, sampleText } from './pictures.js';

export class ResultsView {
  constructor(root, { onPick = () => {} } = {}) {
    this.onPick = onPick;
    this.msg = null;
    this.samples = null; // the fixed validation samples (a sampleSet)
    this.selected = 0;
    this.canPick = false;
    this.summary = h('p', { class: 'ir-summary' });
    this.matrix = h('div', { class: 'ir-matrix', role: 'table', 'aria-label': 'Confusion matrix' });
    this.samplesTitle = h('h3', { class: 'insight-h' }, 'Validation samples, mistakes first');
    this.grid = h('div', { class: 'ir-samples' });
    this.note = h('p', { class: 'insight-caption' });
    this.empty = h('p', { class: 'insight-empty' }, 'Train a classifier to see which classes it confuses.');
    root.append(this.empty, this.summary, h('h3', { class: 'insight-h' }, 'Confusion matrix',
      h('span', { class: 'insight-h-note' }, 'rows: true class · columns: predicted')), this.matrix,
    this.samplesTitle, this.grid, this.note);
  }

  set(msg) {
    this.msg = msg || null;
    this.draw();
  }

  setSamples(set) {
    this.samples = set && set.count ? set : null;
    this.thumbs = null;
    this.drawSamples();
  }

  setSelection(index, canPick, note) {
    this.selected = index;
    this.canPick = canPick;
    setText(this.note, note);
    this.drawSamples();
  }

  draw() {
    if (!onScreen(this.empty.parentElement)) return; // drawn when its tab is shown
    const m = this.msg;
    this.empty.hidden = Boolean(m);
    for (const el of [this.summary, this.matrix, this.samplesTitle, this.grid, this.matrix.previousElementSibling]) el.hidden = !m;
    if (!m) return;
    const s = confusionSummary(m.confusion);
    this.summary.replaceChildren(h('b', {}, percent(s.accuracy)),
      ` right: ${s.correct.toLocaleString('en-US')} of ${s.total.toLocaleString('en-US')} validation samples`,
      h('span', { class: 'ir-step' }, `step ${m.step.toLocaleString('en-US')}`));
    this.drawMatrix(m, s);
    this.drawSamples();
  }

  drawMatrix(m, s) {
    const k = m.confusion.length;
    const names = m.classes || m.confusion.map((_, i) => String(i));
    const cell = Math.max(22, Math.min(64, Math.floor(300 / k)));
    this.matrix.style.gridTemplateColumns = `auto repeat(${k}, ${cell}px)`;
    this.matrix.style.setProperty('--cell', `${cell}px`);
    setAttr(this.matrix, 'data-total', s.total);
    setAttr(this.matrix, 'data-classes', k);
    const head = [h('span', { class: 'ir-corner', 'aria-hidden': 'true' }, 'true ↓'),
      ...names.map((n) => h('span', { class: 'ir-col', role: 'columnheader', title: `predicted ${n}` }, short(n)))];
    const rows = m.confusion.flatMap((row, r) => [
      h('span', { class: 'ir-row', role: 'rowheader', title: `true ${names[r]}` }, short(names[r])),
      ...row.map((count, c) => {
        const share = cellShare(m.confusion, r, c, s.rowSums);
        // Mistakes are few: a square root keeps one of forty visible.
        const alpha = !count ? 0 : r === c ? 0.1 + 0.85 * share : 0.2 + 0.8 * Math.sqrt(share);
        const diagonal = r === c;
        const el = h('span', {
          class: `ir-cell${diagonal ? ' is-diagonal' : ''}${count && !diagonal ? ' is-mistake' : ''}${alpha > 0.55 ? ' is-strong' : ''}`,
          role: 'cell', dataset: { count, true: r, pred: c },
          title: `${count} ${count === 1 ? 'sample' : 'samples'} of ${names[r]} predicted as ${names[c]} (${Math.round(share * 100)}% of the ${names[r]}s)`,
        }, count ? String(count) : '');
        el.style.setProperty('--a', alpha.toFixed(3)); // a custom property: not settable through h()
        return el;
      }),
    ]);
    this.matrix.replaceChildren(...head, ...rows);
  }

  drawSamples() {
    const m = this.msg;
    if (!m || !onScreen(this.grid.parentElement)) return;
    const names = m.classes || [];
    const name = (k) => names[k] ?? String(k);
    const preds = m.predictions || [];
    if (!this.thumbs) this.thumbs = new Map(); // index -> its canvas, drawn once per set of samples
    const thumb = (i, size) => {
      if (!this.samples || i >= this.samples.count) return null;
      if (!this.thumbs.has(i)) this.thumbs.set(i, sampleThumb(this.samples, i, size));
      return this.thumbs.get(i);
    };
    if (this.samples?.kind === 'images') {
      this.grid.classList.remove('is-list');
      this.grid.replaceChildren(...preds.map((p) => {
        const wrong = p.true !== p.pred;
        const item = h('button', { type: 'button', class: `ir-sample${wrong ? ' is-wrong' : ''}`,
          dataset: { sample: p.index }, 'aria-pressed': p.index === this.selected ? 'true' : 'false',
          title: `Sample #${p.index}: a ${name(p.true)}, predicted ${name(p.pred)} (${Math.round(p.confidence * 100)}% sure)` },
        thumb(p.index, 36),
        h('span', {}, wrong ? `${short(name(p.true))}→${short(name(p.pred))}` : `${short(name(p.pred))} ✓`));
        item.addEventListener('click', () => { if (this.canPick) this.onPick(p.index); });
        item.disabled = !this.canPick && p.index !== this.selected;
        return item;
      }));
      return;
    }
    this.grid.classList.add('is-list');
    this.grid.replaceChildren(...preds.map((p) => {
      const wrong = p.true !== p.pred;
      const what = this.samples ? sampleText(this.samples, p.index, names) : `class ${name(p.true)}`;
      const row = h('button', { type: 'button', class: `ir-line${wrong ? ' is-wrong' : ''}`, dataset: { sample: p.index },
        'aria-pressed': p.index === this.selected ? 'true' : 'false',
        title: `Sample #${p.index}: ${what}, predicted ${name(p.pred)} (${Math.round(p.confidence * 100)}% sure)` },
      h('span', { class: 'ir-line-id' }, thumb(p.index, 18), `#${p.index}`),
      h('span', {}, wrong ? `${short(name(p.true))} → ${short(name(p.pred))}` : `${short(name(p.pred))} ✓`),
      h('span', { class: 'ir-line-conf' }, `${Math.round(p.confidence * 100)}%`));
      row.addEventListener('click', () => { if (this.canPick) this.onPick(p.index); });
      row.disabled = !this.canPick && p.index !== this.selected;
      return row;
    }));
  }
}

/** Long class names ("T-shirt/top") shortened for a cell. */
function short(name) {
  const s = String(name);
  return s.length > 6 ? `${s.slice(0, 5)}…` : s;
}
