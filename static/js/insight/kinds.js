// Training kinds as the page sees them (CONTRACTS.md §6): the `kinds` of GET /api/training give
// each kind's metrics (and the chart each is drawn on), its step buttons and its live
// hyperparameters. The charts, the run card and the Insight panel read their plans from here,
// so a kind's names live on the server only. Pure, except loadKinds() (one fetch, shared).

/** What the page assumes of a server that serves no training catalog yet: supervised as it was. */
export const BUILTIN = {
  name: 'supervised',
  metrics: [
    { name: 'train_loss', chart: 'loss' }, { name: 'val_loss', chart: 'loss' },
    { name: 'train_accuracy', chart: 'accuracy' }, { name: 'val_accuracy', chart: 'accuracy' },
    { name: 'lr', chart: null },
  ],
  steps: [],
  hparams: [{ name: 'lr' }],
};

// Words for the names a catalog uses (a name not listed reads as itself): short (captions),
// long (legends) and, where it differs, as a measure of its own (the Runs tab's buttons).
const LABELS = {
  train_loss: ['train', 'train', 'Training loss'], val_loss: ['val', 'validation', 'Validation loss'],
  train_accuracy: ['train', 'train'], val_accuracy: ['val', 'validation'],
  d_loss: ['D', 'D loss'], g_loss: ['G', 'G loss'], d_real: ['real', 'D(real)'],
  d_fake: ['fake', 'D(fake)'], mmd: ['MMD', 'MMD'], lr: ['lr', 'lr'], generator_lr: ['G lr', 'G lr'],
  episode_return: ['return', 'episode return', 'Episode return'], td_loss: ['TD loss', 'TD loss'],
  q_mean: ['mean Q', 'mean Q'], epsilon: ['ε', 'ε', 'Exploration ε'],
};
// Where a live hyperparameter sits in the training section, when the catalog does not say.
const HPARAM_PATHS = { lr: ['optimizer', 'lr'], generator_lr: ['gan', 'generator_optimizer', 'lr'] };
const HPARAM_LABELS = { lr: 'Learning rate', generator_lr: 'Generator lr' };

/** The kind a document trains as (a document without `training.kind` is supervised). */
export function kindName(doc) {
  const k = doc?.training?.kind;
  return typeof k === 'string' && k ? k : 'supervised';
}

/** A kind's catalog entry; the built-in supervised one when the server serves none. */
export function kindEntry(catalog, name = 'supervised') {
  const found = catalog?.kinds?.find?.((k) => k?.name === name);
  if (found) return found;
  return name === 'supervised' || !catalog ? BUILTIN : null;
}

/** A metric's short label (chart captions), its long one (legends) or its full name. */
export function metricLabel(name, { long = false, full = false } = {}) {
  const words = LABELS[name];
  if (!words) return String(name).replace(/_/g, ' ');
  return full ? words[2] || words[1] : words[long ? 1 : 0];
}

/** The charts of a kind, in catalog order: [{name, metrics: [{name, doc}]}]; lr-like metrics
 * without a chart are not drawn (their changes are marked instead). A chart whose metrics count
 * episodes (`x: "episode"`, a dqn's return) says so (`x`), and a metric keeps the catalog's
 * moving `average` and `goal` (a field of the run's environment) where it has them. */
export function chartPlan(entry) {
  const charts = new Map();
  for (const m of (entry || BUILTIN).metrics || []) {
    if (!m?.name || !m.chart) continue;
    if (!charts.has(m.chart)) charts.set(m.chart, { name: m.chart, metrics: [], ...(m.x && m.x !== 'step' ? { x: m.x } : {}) });
    charts.get(m.chart).metrics.push({ name: m.name, doc: m.doc || '', ...(m.average ? { average: m.average } : {}),
      ...(m.goal ? { goal: m.goal } : {}) });
  }
  return [...charts.values()];
}

/**
 * Charts for metrics a run sends per layer in a phase of its own, which no chart of the kind's
 * plan draws (a deep belief net's reconstruction_error while each layer pre-trains,
 * CONTRACTS.md §6): one chart per phase, named by it, one line per layer (the table's
 * `name@layer` columns), labelled with the layer's node id. layered: MetricTable.layered.
 */
export function phasePlan(layered, plan = []) {
  const drawn = new Set(plan.flatMap((c) => c.metrics.map((m) => m.name)));
  const charts = new Map();
  for (const [name, { phase, layers }] of layered || []) {
    if (!phase || drawn.has(name) || !layers.length) continue;
    if (!charts.has(phase)) charts.set(phase, { name: phase, metrics: [] });
    charts.get(phase).metrics.push(...layers.map((layer) => ({ name: `${name}@${layer}`, layer, label: layer,
      legend: `${layer} ${metricLabel(name, { long: true })}`, doc: `Layer ${layer}'s ${metricLabel(name, { long: true })}` })));
  }
  return [...charts.values()];
}

/** The step buttons of a kind: one plain "Step" unless it names several (a gan's D, G, both),
 * each [{network (null: a plain step), label}]. */
export function stepPlan(entry) {
  const steps = (entry?.steps || []).filter((s) => s?.name);
  if (steps.length < 2) return [{ network: null, label: steps[0]?.label || 'Step', doc: steps[0]?.doc || '' }];
  return steps.map((s) => ({ network: s.name, label: s.label || `Step ${s.name}`, doc: s.doc || '' }));
}

/** The hyperparameters the run card changes live: [{name, label, path, doc, default, min, max,
 * min_exclusive, max_exclusive, charted}]; `path` is inside the training section. The first is
 * the one the `lr` row edits. `charted`: the kind draws the rate on a chart of its own (a dqn's
 * ε, which its schedule moves while the run trains). */
export function hparamPlan(entry) {
  const list = (entry?.hparams?.length ? entry.hparams : BUILTIN.hparams)
    .map((h) => (typeof h === 'string' ? { name: h } : h)).filter((h) => h?.name);
  const two = list.some((h) => h.name === 'generator_lr'); // then `lr` is the discriminator's
  const charted = new Set((entry?.metrics || []).filter((m) => m?.chart).map((m) => m.name));
  return list.map((h) => ({
    name: h.name,
    label: h.label || (two && h.name === 'lr' ? 'Discriminator lr' : HPARAM_LABELS[h.name]) || metricLabel(h.name),
    path: Array.isArray(h.path) ? h.path : typeof h.path === 'string' ? h.path.replace(/^training\./, '').split('.')
      : HPARAM_PATHS[h.name] || [h.name],
    doc: h.doc || '',
    default: typeof h.default === 'number' ? h.default : null,
    min: typeof h.min === 'number' ? h.min : null,
    max: typeof h.max === 'number' ? h.max : null,
    min_exclusive: Boolean(h.min_exclusive),
    max_exclusive: Boolean(h.max_exclusive),
    charted: charted.has(h.name),
  }));
}

/** Metrics that are live hyperparameters: their changes are marked on the charts (not one the
 * kind charts itself: a dqn's ε moves with every point, its chart shows it). */
export function markedMetrics(entry) {
  const names = new Set(((entry || BUILTIN).metrics || []).map((m) => m?.name));
  const marked = hparamPlan(entry).filter((h) => !h.charted).map((h) => h.name).filter((n) => names.has(n));
  return marked.length ? marked : ['lr'];
}

/** What the Runs tab compares between runs of one design: the loss chart's metrics, then any
 * chart of a single metric (a gan's MMD, the one measure of its samples). [{column, label}] */
export function compareColumns(entry) {
  const plan = chartPlan(entry);
  const loss = plan.find((c) => c.name === 'loss') || plan[0];
  const picked = [...(loss?.metrics || []), ...plan.filter((c) => c !== loss && c.metrics.length === 1).map((c) => c.metrics[0])];
  return picked.map((m) => ({ column: m.name, label: metricLabel(m.name, { full: true }) }));
}

/** A gan's generator: the nodes reachable from its Noise before the Input (CONTRACTS.md §6);
 * empty for a design without Noise. Its units are pictured over the noise plane. */
export function generatorNodes(doc) {
  const nodes = doc?.nodes || [];
  const type = new Map(nodes.map((n) => [n.id, n.type]));
  const seen = new Set();
  const todo = nodes.filter((n) => n.type === 'Noise').map((n) => n.id);
  while (todo.length) {
    const id = todo.pop();
    if (seen.has(id) || type.get(id) === 'Input') continue;
    seen.add(id);
    for (const e of doc.edges || []) if (e.source === id) todo.push(e.target);
  }
  return seen;
}

// -- the catalog, fetched once for every view ------------------------------------------------------

let catalog = null; // the last catalog given or fetched
let loading = null;
const listeners = new Set();

/** The training catalog, once known (null before). */
export function kindsCatalog() {
  return catalog;
}

/** Hand the catalog over (from whoever fetched GET /api/training); views that wait redraw. */
export function provideKinds(value) {
  if (!value || !Array.isArray(value.kinds)) return;
  catalog = value;
  for (const fn of listeners) fn(catalog);
}

/** Call fn(catalog) whenever a catalog arrives. */
export function onKinds(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * Fetch GET /api/training once (later calls share the answer); null when the server has none.
 * main.js hands over the catalog it loads at boot (provideKinds); without one, this is asked
 * when a design that is not supervised first shows up, so a server without the route sees
 * no request (and the console no 404) while only supervised designs are open.
 */
export function loadKinds(fetchImpl = globalThis.fetch) {
  if (catalog) return Promise.resolve(catalog);
  if (!loading) {
    loading = Promise.resolve()
      .then(() => fetchImpl('/api/training', { headers: { Accept: 'application/json' } }))
      .then((res) => (res.ok ? res.json() : null))
      .then((body) => {
        provideKinds(body);
        return catalog;
      })
      .catch(() => null); // asked once a page: a server without the route stays without it
  }
  return loading;
}

/** The entry of a document's kind now, asking for the catalog when it is not supervised. */
export function entryOf(doc) {
  const name = kindName(doc);
  if (name !== 'supervised' && !catalog) loadKinds();
  return kindEntry(catalog, name);
}
