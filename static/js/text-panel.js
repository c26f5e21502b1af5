// What a next-character network writes while it learns (run_text, 1/s on a text dataset): the
// prompt in grey (the first window of the text's validation part, never trained on), then each
// continuation after it: the greedy one and one sampled at the frame's temperature with a fixed
// seed, so that two frames differ only because the network learned in between.

import { h, setAttr, setText } from './dom.js';

/** The end of a prompt that fits before a continuation: at most `keep` characters, with an
 * ellipsis when cut. Pure. */
export function promptTail(prompt, keep = 48) {
  const text = String(prompt || '');
  return text.length > keep ? `…${text.slice(-keep)}` : text;
}

export class TextPanel {
  /** host: where the card goes (the top of the side column's scrolling part, above the
   * settings); runClient: whose run_text frames. */
  constructor(host, { runClient }) {
    this.runClient = runClient;
    this.runId = null;
    this.step = h('span', { class: 'text-step' });
    this.samples = ['greedy', 'sampled'].map((name) => ({
      name,
      prompt: h('span', { class: 'text-prompt' }),
      written: h('span', { class: 'text-written' }),
      label: h('span', { class: 'text-label' }, name),
    }));
    this.empty = h('p', { class: 'text-empty' }, 'Train to watch the network write: a continuation of the text appears here every second.');
    this.root = h('section', { class: 'text-card', 'aria-label': 'What the network writes', hidden: true },
      h('header', { class: 'text-head' }, h('h3', { class: 'text-title' }, 'What it writes'), this.step),
      this.empty,
      this.samples.map((s) => h('div', { class: 'text-sample', dataset: { sample: s.name } },
        s.label, h('p', { class: 'text-body' }, s.prompt, s.written))));
    host.prepend(this.root);
    runClient.onFrameOf('text', (msg) => this.show(msg));
  }

  /** Shown for a design (or watched run) that trains on a text dataset. */
  setDocument(doc) {
    this.root.hidden = doc?.training?.dataset?.name !== 'text';
    if (this.runClient.runId !== this.runId) this.clear();
  }

  clear() {
    this.runId = this.runClient.runId;
    setText(this.step, '');
    setAttr(this.root, 'data-step', null);
    this.empty.hidden = false;
    for (const s of this.samples) { setText(s.prompt, ''); setText(s.written, ''); }
  }

  /** A run_text frame: {run_id, step, prompt, samples: [greedy, sampled], temperature}. */
  show(msg) {
    if (msg.run_id !== this.runId) this.clear();
    this.runId = msg.run_id;
    this.root.hidden = false;
    if (!this.empty.hidden) this.root.scrollIntoView({ block: 'nearest' }); // a run's first words: in view
    this.empty.hidden = true;
    setText(this.step, `step ${Number(msg.step || 0).toLocaleString('en-US')}`);
    setAttr(this.root, 'data-step', msg.step ?? 0);
    this.samples.forEach((s, i) => {
      setText(s.prompt, promptTail(msg.prompt));
      setText(s.written, msg.samples?.[i] ?? '');
    });
    const t = Number(msg.temperature);
    setText(this.samples[1].label, Number.isFinite(t) ? `sampled · temperature ${t}` : 'sampled');
  }
}
