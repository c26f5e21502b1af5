// Import ONNX (CONTRACTS.md §7): POST /api/import turns an .onnx file into a design and its
// weights (stored as an upload). The design replaces the canvas the way opening a file does
// (one undo step brings the previous design back), with training.init {"weights": id} so the
// next Train starts from the imported weights. The importer's warnings, and the ONNX nodes it
// refused (each with its op), are listed in a dialog that stays until it is closed.

import { api } from './api.js';
import { h, toast } from './dom.js';
import { normalizeDocument } from './graph.js';
import { problemText } from './problem.js';

/** The imported design ready to open: it starts from the imported weights, and trains on the
 * open design's dataset when that takes the imported Input's shape, else on the first dataset
 * of the catalog that does (none: the user chooses). Pure. */
export function importedDocument(answer, current, datasets) {
  const doc = normalizeDocument(answer.document);
  const input = doc.nodes.find((n) => n.type === 'Input')?.params?.shape;
  const fits = (meta) => Boolean(meta?.input_shape && input && meta.input_shape.join() === input.join());
  const spec = current?.training?.dataset;
  const other = [...datasets.values()].find((meta) => fits(meta) && meta.offline !== false);
  const dataset = doc.training.dataset || (spec && fits(datasets.get(spec.name)) ? spec : other ? { name: other.name } : null);
  doc.training = { ...doc.training, ...(dataset ? { dataset } : {}), init: { weights: answer.weights } };
  return doc;
}

/** The refused nodes of an import error, as [{node, op, message}] (details of other shapes
 * become a message each). Pure. */
export function refusedNodes(err) {
  return (err?.details || []).map((d) => (d && typeof d === 'object'
    ? { node: d.node ?? null, op: d.op ?? null, message: d.message || '' } : { node: null, op: null, message: String(d) }));
}

/** Import a chosen or dropped .onnx file; `open(doc)` puts the design on the canvas. */
export async function importOnnx(app, file, open) {
  const note = toast(`Importing ${file.name}…`, { timeout: 0 });
  let answer;
  try {
    answer = await api.importModel(file);
  } catch (err) {
    note.remove();
    const nodes = refusedNodes(err);
    toast(`Could not import ${file.name}: ${problemText(err)}`, { kind: 'error', timeout: 10000 });
    showReport({ title: `Could not import ${file.name}`, kind: 'error', lead: problemText(err),
      heading: nodes.length ? `${nodes.length} ${nodes.length === 1 ? 'problem' : 'problems'}` : null, items: nodes });
    return null;
  }
  note.remove();
  const doc = importedDocument(answer, app.store.doc, app.datasets);
  open(doc);
  const layers = doc.nodes.length;
  const warnings = answer.warnings || [];
  const diff = Number.isFinite(answer.max_abs_diff) ? ` · matches ONNX Runtime to ${answer.max_abs_diff.toExponential(1)}` : '';
  toast(`Imported ${file.name}: ${layers} layers with their weights${diff}. ${doc.training.dataset ? ''
    : 'Choose a dataset to train. '}Undo (Ctrl+Z) brings the previous design back.`, { kind: 'ok', timeout: 9000 });
  if (warnings.length) {
    showReport({ title: `Imported ${file.name}`, kind: 'warning',
      lead: `${layers} layers; the next Train starts from the imported weights. What changed on the way:`,
      heading: `${warnings.length} ${warnings.length === 1 ? 'warning' : 'warnings'}`,
      items: warnings.map((w) => ({ node: null, op: null, message: String(w) })) });
  }
  return doc;
}

let overlay = null;

/** The import dialog: a title, a lead sentence and a list of {node, op, message}. */
export function showReport({ title, kind, lead, heading, items }) {
  overlay?.remove();
  const close = () => { overlay?.remove(); overlay = null; };
  const ok = h('button', { type: 'button', class: 'btn btn-accent', onclick: close }, 'OK');
  overlay = h('div', { class: 'help-overlay import-overlay', role: 'dialog', 'aria-modal': 'true', 'aria-label': title,
    onclick: (e) => { if (e.target === overlay) close(); },
    onkeydown: (e) => { e.stopPropagation(); if (e.key === 'Escape') close(); }, // no editor shortcuts meanwhile
    onkeyup: (e) => e.stopPropagation() },
  h('div', { class: `help-card import-card is-${kind}`, dataset: { report: kind } },
    h('header', {}, h('h2', {}, title),
      h('button', { type: 'button', class: 'btn btn-round', 'aria-label': 'Close', onclick: close }, '×')),
    lead ? h('p', { class: 'import-lead' }, lead) : null,
    heading ? h('h3', { class: 'import-heading' }, heading) : null,
    items.length ? h('ul', { class: 'import-list' }, items.map((it) => h('li', { class: 'import-item', dataset: {
      node: it.node || '', op: it.op || '' } },
    it.node ? h('code', { class: 'import-node' }, it.node) : null,
    it.op ? h('span', { class: 'import-op' }, it.op) : null,
    h('span', { class: 'import-message' }, it.message)))) : null,
    h('footer', { class: 'import-foot' }, ok)));
  document.body.append(overlay);
  ok.focus();
  return overlay;
}
