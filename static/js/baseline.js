// The random-forest baseline of the open design (CONTRACTS.md §7): the run card's Baseline
// button sends `baseline` over Socket.IO with the document, shows baseline_progress as a bar,
// then puts the forest's figure on the chart of that metric as a dashed level (validation
// accuracy, or the validation loss for regression) and, for 2-D data, offers its boundary under
// the points ("Show forest boundary"). The server keeps each fit with its design and data; this
// page remembers which ones it asked for (their design_key and dataset_key), so the level comes
// back after a reload (GET /api/baseline), and a run of the open design (its design_key) finds
// one fitted elsewhere. A refusal (a gan, an autoencoder, a design the server would not train)
// is said under the button in the server's own words.

import { api } from './api.js';
import { h, setAttr, setText } from './dom.js';
import { metric, percent } from './format.js';
import { bytesOf } from './node-viz.js';
import { problemText } from './problem.js';

const STORE_KEY = 'layerlab.baselines.v1'; // [{design, design_key, dataset_key}], newest last
const KEPT = 40;
// BASELINE_SECONDS (300) for the fit plus BASELINE_WAIT_SECONDS (60) in the queue, and some.
const TIMEOUT_MS = 400_000;
export const LABEL = 'random forest';

/** JSON with object keys sorted: the same value gives the same text. Pure. */
function stable(value) {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stable(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** A 53-bit hash of a text as 14 hex digits (cyrb53): short keys for long signatures. Pure. */
function hash(text) {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, '0');
}

/**
 * What a fit belongs to: the document's graph (nodes, params, wires: the server files a fit under
 * the graph's design_key) and what the forest learns from (dataset, task, loss), hashed. Pure.
 */
export function designSignature(doc) {
  const t = doc?.training || {};
  const nodes = (doc?.nodes || []).map((n) => [n.id, n.type, n.params || {}]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const edges = (doc?.edges || []).map((e) => [e.source, e.target, e.port ?? null]);
  return hash(stable([nodes, edges, t.kind || null, t.dataset || null, t.task || null, t.loss || null]));
}

/** The figure of a baseline answer and the metric it lies beside: {metric, value}, or null. Pure. */
export function baselineFigure(result) {
  if (typeof result?.val_accuracy === 'number') return { metric: 'val_accuracy', value: result.val_accuracy };
  if (typeof result?.val_loss === 'number') return { metric: 'val_loss', value: result.val_loss };
  return null;
}

/** A boundary frame with its bytes as a Uint8Array (an HTTP answer carries base64 text). Pure. */
export function frameBytes(frame) {
  if (!frame) return null;
  if (frame.encoding !== 'base64') return { ...frame, data: bytesOf(frame.data) };
  const text = atob(frame.data);
  const data = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i += 1) data[i] = text.charCodeAt(i);
  const { encoding, ...rest } = frame;
  void encoding;
  return { ...rest, data };
}

/**
 * Is a stored baseline's dataset (its spec with every default filled) the one a document asks
 * for? meta: the dataset's GET /api/datasets entry (its params' defaults). Pure.
 */
export function sameData(stored, spec, meta) {
  if (!stored || !spec || stored.name !== spec.name) return false;
  return (meta?.params || []).every((p) => (stored[p.name] ?? p.default ?? null) === (spec[p.name] ?? p.default ?? null));
}

/** "random forest 98.7%" for accuracy, "random forest 0.0123" for a loss. Pure. */
export function baselineText(result) {
  const figure = baselineFigure(result);
  if (!figure) return '';
  return `${LABEL} ${figure.metric === 'val_accuracy' ? percent(figure.value) : metric(figure.value)}`;
}

export class Baseline {
  /**
   * root: the run card; conn: the Socket.IO connection; store: the open design; charts: the
   * chart dock (its setBaseline); onForest(frame | null): draw the forest's boundary in place of
   * the network's (null: the network's again); schema: GET /api/training (a kind whose
   * `baseline` is false, gan or dqn, has no Baseline button).
   */
  constructor(root, { conn, store, charts, datasets = new Map(), readOnly = false, onForest = () => {},
    storage = localStorage, fetchStored = api.baselines, schema = null }) {
    this.conn = conn;
    this.schema = schema;
    this.datasets = datasets; // GET /api/datasets by name: a stored fit's data is matched with defaults
    this.store = store;
    this.charts = charts;
    this.onForest = onForest;
    this.storage = storage;
    this.fetchStored = fetchStored;
    this.cache = new Map(); // design signature -> its baseline answer (boundary bytes decoded)
    this.sig = null;
    this.result = null;
    this.fitting = false;
    this.button = h('button', { type: 'button', class: 'btn btn-baseline edit-only', dataset: { action: 'baseline' },
      title: 'Fit a random forest on this design\'s own data: a level for the network to beat' }, 'Baseline');
    this.fill = h('div', { class: 'progress-fill' });
    this.bar = h('div', { class: 'progress-bar baseline-bar', role: 'progressbar', 'aria-label': 'Growing the random forest',
      'aria-valuemin': '0', 'aria-valuemax': '100', hidden: true }, this.fill);
    this.text = h('span', { class: 'baseline-text' });
    this.toggle = h('input', { type: 'checkbox', name: 'forest_boundary' });
    this.toggleRow = h('label', { class: 'baseline-toggle', hidden: true,
      title: 'Draw the random forest\'s decision boundary under the points, in place of the network\'s' }, this.toggle, 'Show forest boundary');
    this.error = h('p', { class: 'baseline-error', role: 'alert', hidden: true });
    this.el = h('div', { class: 'baseline', dataset: { baseline: 'idle' } },
      h('div', { class: 'baseline-row' }, this.button, h('div', { class: 'baseline-status' }, this.bar, this.text)),
      this.toggleRow, this.error);
    root.append(this.el);
    this.button.disabled = readOnly;
    this.button.addEventListener('click', () => this.fit());
    this.toggle.addEventListener('change', () => this.showForest());
    conn.on('baseline_progress', (msg) => this.progress(msg));
    store.subscribe((change) => { if (change.doc) this.docChanged(); });
    this.docChanged();
  }

  // -- fitting ------------------------------------------------------------------------------------

  /** Fit a forest on the open design's data (the server grows it; progress comes as events). */
  async fit() {
    if (this.fitting) return;
    const doc = this.store.doc;
    const sig = designSignature(doc);
    this.fitting = true;
    this.setState('fitting');
    this.progress({ grown: 0, trees: null });
    try {
      const ack = await this.conn.request('baseline', doc, TIMEOUT_MS);
      if (!ack?.ok) throw Object.assign(new Error(ack?.message || 'the server refused'), { code: ack?.error });
      const result = { ...ack, boundary: frameBytes(ack.boundary) };
      this.cache.set(sig, result);
      this.remember(sig, result);
      if (sig === this.sig) this.show(result);
    } catch (err) {
      if (sig === this.sig) this.fail(problemText(err).replace(/^./, (c) => c.toUpperCase()));
    } finally {
      this.fitting = false;
      this.bar.hidden = true;
      if (this.el.dataset.baseline === 'fitting') this.setState(this.result ? 'done' : 'idle');
      this.button.disabled = false;
    }
  }

  /** baseline_progress {design_key, trees, grown}: the bar while this page's fit grows. */
  progress(msg) {
    if (!this.fitting) return;
    const frac = msg?.trees ? Math.min(1, msg.grown / msg.trees) : 0;
    this.bar.hidden = false;
    this.fill.style.transform = `scaleX(${frac})`;
    setAttr(this.bar, 'aria-valuenow', Math.round(frac * 100));
    setAttr(this.bar, 'data-grown', msg?.grown ?? 0);
    setText(this.text, msg?.trees ? `${msg.grown} / ${msg.trees} trees` : 'Loading the data…');
    this.button.disabled = true;
  }

  setState(state) {
    this.el.dataset.baseline = state;
  }

  fail(message) {
    this.show(null);
    this.setState('failed');
    setText(this.error, message);
    this.error.hidden = false;
  }

  // -- showing ------------------------------------------------------------------------------------

  /** A baseline answer (or none) on the charts, in the card and, when asked, under the points. */
  show(result) {
    this.result = result;
    this.error.hidden = true;
    const figure = baselineFigure(result);
    this.charts.setBaseline(figure ? { ...figure, label: LABEL } : null);
    setText(this.text, result ? baselineText(result) : '');
    setAttr(this.text, 'title', result ? `${result.trees} trees, grown in ${result.seconds} s on the ${result.train_samples ?? ''} training samples; `
      + `scored on the ${result.val_samples ?? ''} validation samples, as the network's validation figure is` : null);
    this.toggleRow.hidden = !result?.boundary;
    this.setState(result ? 'done' : 'idle');
    this.showForest();
  }

  showForest() {
    const frame = this.toggle.checked && !this.toggleRow.hidden ? this.result?.boundary : null;
    this.onForest(frame || null);
  }

  /** The open design changed: its own baseline (fitted here before, or stored), or none. */
  docChanged() {
    const kind = this.schema?.kinds?.find((k) => k.name === this.schema.kindOf(this.store.doc?.training));
    this.el.hidden = Boolean(kind) && !kind.baseline;
    const sig = designSignature(this.store.doc);
    if (sig === this.sig) return;
    this.sig = sig;
    if (this.cache.has(sig)) {
      this.show(this.cache.get(sig));
      return;
    }
    this.show(null);
    this.loadStored(sig);
  }

  async loadStored(sig) {
    const entry = this.memory().find((e) => e.design === sig);
    if (!entry) return;
    try {
      const [stored] = await this.fetchStored(entry.design_key, entry.dataset_key);
      if (!stored) return;
      const result = { ...stored, boundary: frameBytes(stored.boundary) };
      this.cache.set(sig, result);
      if (sig === this.sig && !this.fitting) this.show(result);
    } catch { /* gone from the server (a fresh data folder): the button fits it again */ }
  }

  /**
   * A run of the open design came with its design_key (train's or watch's ack): a baseline
   * stored under it on the design's data shows, when this page has none for it yet.
   */
  async runKnown(designKey, doc) {
    const sig = designSignature(doc);
    if (!designKey || sig !== this.sig || this.result || this.fitting || this.asked === `${designKey}:${sig}`) return;
    this.asked = `${designKey}:${sig}`;
    const spec = this.store.doc.training?.dataset;
    try {
      const list = await this.fetchStored(designKey);
      const stored = list.find((b) => sameData(b.dataset, spec, this.datasets.get(spec?.name)));
      if (!stored || sig !== this.sig || this.result || this.fitting) return;
      const result = { ...stored, boundary: frameBytes(stored.boundary) };
      this.cache.set(sig, result);
      this.remember(sig, result);
      this.show(result);
    } catch { /* none stored: the button fits one */ }
  }

  // -- what this page asked for ---------------------------------------------------------------------

  memory() {
    try {
      const list = JSON.parse(this.storage.getItem(STORE_KEY) || '[]');
      return Array.isArray(list) ? list : [];
    } catch { return []; }
  }

  remember(sig, result) {
    if (!result.design_key || !result.dataset_key) return;
    const list = this.memory().filter((e) => e.design !== sig);
    list.push({ design: sig, design_key: result.design_key, dataset_key: result.dataset_key });
    try { this.storage.setItem(STORE_KEY, JSON.stringify(list.slice(-KEPT))); } catch { /* best effort */ }
  }
}
