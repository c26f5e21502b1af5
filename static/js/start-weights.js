// Where a run's weights start (training.init, CONTRACTS.md §7): fresh, an example's trained
// weights ({"weights": "example-ID"}, from GET /api/examples' `weights`), an imported model's
// ({"weights": upload id}) or an earlier run's ({"run": RUN_ID}). The training form draws the
// schema's `init` field with this view: a removable chip while it is set, else the actions that
// set it (Load trained weights when the open design is an example that ships them; Continue
// from the last run when this page's last run trained this very design).

import { h, setText } from './dom.js';
import { setPath } from './graph.js';
import { DONE } from './progress.js';

/** The layers and wires of a document, without names, layout or training: what weights fit. Pure. */
export function graphKey(doc) {
  const sorted = (v) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v);
  const nodes = (doc?.nodes || []).map((n) => [n.id, n.type, sorted(n.params || {})])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const edges = (doc?.edges || []).map(({ ui, ...e }) => JSON.stringify(sorted(e))).sort();
  return JSON.stringify([nodes, edges]);
}

/** The example whose trained weights fit this document (same layers and wires), or null. Pure. */
export function exampleOf(doc, examples) {
  const key = graphKey(doc);
  return (examples || []).find((e) => e.weights && graphKey(e.document) === key) || null;
}

/** The document starting from an example's trained weights. Pure. */
export function withTrainedWeights(doc, example) {
  return setPath(doc, ['training', 'init'], { weights: example.weights });
}

/** Words for a training.init value: {chip, title}; null for fresh weights. Pure. */
export function initWords(init, examples = []) {
  if (!init || typeof init !== 'object') return null;
  if (typeof init.run === 'string') {
    return { chip: `continues run ${init.run}`, title: `Starts from the weights run ${init.run} ended with` };
  }
  if (typeof init.weights === 'string') {
    const ex = examples.find((e) => e.weights === init.weights);
    return ex ? { chip: 'starts from trained weights', title: `Starts from the trained weights shipped with “${ex.name}”` }
      : { chip: 'starts from imported weights', title: `Starts from uploaded weights ${init.weights} (an imported model's)` };
  }
  return { chip: 'starts from other weights', title: JSON.stringify(init) };
}

export class StartWeights {
  /** examples: GET /api/examples; lastRun(): {runId, document, state} of this page's run or null. */
  constructor({ store, examples, lastRun = () => null, readOnly = false }) {
    this.store = store;
    this.examples = examples || [];
    this.lastRun = lastRun;
    this.readOnly = readOnly;
  }

  setInit(init) {
    this.store.commit(setPath(this.store.doc, ['training', 'init'], init ?? undefined));
  }

  /** The run whose ended weights this document could continue from, or null. */
  continuable(doc) {
    const run = this.lastRun();
    if (!run?.runId || !DONE.has(run.state) || run.state === 'failed' || !run.document) return null;
    return graphKey(run.document) === graphKey(doc) ? run.runId : null;
  }

  /** The training form's `init` field: {el, set(training), serverError(msg)}. */
  field() {
    const row = h('div', { class: 'init-row' });
    const message = h('p', { class: 'field-msg', 'aria-live': 'polite' });
    const el = h('div', { class: 'field field-init' },
      h('span', { class: 'field-label' }, 'start from'), row,
      h('p', { class: 'field-doc' }, 'Fresh weights, or the weights of a trained model: the next Train starts from them.'),
      message);
    let shown = null;
    const set = (training) => {
      const doc = this.store.doc;
      const example = exampleOf(doc, this.examples);
      const run = this.continuable(doc);
      const key = JSON.stringify([training?.init ?? null, example?.id, run]);
      if (key === shown) return;
      shown = key;
      row.replaceChildren(...this.row(training?.init, example, run));
    };
    return {
      el, set,
      serverError: (msg) => {
        setText(message, msg || '');
        el.classList.toggle('is-invalid', Boolean(msg));
      },
    };
  }

  row(init, example, runId) {
    const words = initWords(init, this.examples);
    if (words) {
      return [h('span', { class: 'init-chip', title: words.title, dataset: { init: init.run ? 'run' : 'weights' } },
        h('span', {}, words.chip),
        this.readOnly ? null : h('button', { type: 'button', class: 'init-clear', 'aria-label': 'Remove: start from fresh weights',
          title: 'Remove: the next run starts from fresh weights', onclick: () => this.setInit(null) }, '×'))];
    }
    return [
      h('span', { class: 'init-fresh' }, 'fresh weights'),
      example && !this.readOnly ? h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'load-trained-weights' },
        title: `Start from the weights “${example.name}” was trained to`,
        onclick: () => this.setInit({ weights: example.weights }) }, 'Load trained weights') : null,
      runId && !this.readOnly ? h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'continue-run' },
        title: `Start from the weights run ${runId} ended with`,
        onclick: () => this.setInit({ run: runId }) }, `Continue from run ${runId}`) : null,
    ];
  }
}
