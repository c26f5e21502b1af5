// Editing commands shared by the keyboard, the toolbar and the inspector.
// `app` holds {store, canvas, catalog, datasets, notify}; each command is one undo step.

import { inputsFor } from './fields.js';
import { addNode, connect, copyFragment, moveNodes, pasteFragment, removeEdges, removeNodes } from './graph.js';
import { freeSpot, NODE, tidyLayout } from './layout.js';

const CLIP_KEY = 'layerlab.clipboard.v1';

/** Params a new node starts with: an Input takes the dataset's shape when the catalog knows it. */
export function initialParams(app, type) {
  if (type !== 'Input') return {};
  const meta = app.datasets.get(app.store.doc.training?.dataset?.name);
  const fixed = meta?.input_shape && !meta.params?.some((p) => p.name === 'seq_len');
  return fixed ? { shape: [...meta.input_shape] } : {};
}

/** Add a layer at a world point (centred there), or at a sensible free spot. */
export function addLayer(app, type, at = null) {
  const { store } = app;
  if (!app.catalog.has(type)) return null;
  const selected = store.selectedNode ? store.doc.nodes.find((n) => n.id === store.selectedNode) : null;
  // A double-click or a wire dropped on empty canvas chose the spot (and maybe a link) first.
  const pending = app.pending && app.pending.until > Date.now() && !at ? app.pending : null;
  app.pending = null;
  let pos;
  if (at) pos = { x: Math.round(at.x - NODE.w / 2), y: Math.round(at.y - NODE.h / 2) };
  else if (pending) pos = freeSpot(store.doc, { near: pending.at });
  else pos = freeSpot(store.doc, { after: selected, view: app.canvas.visibleWorld() });
  const added = addNode(store.doc, type, { ...pos, params: initialParams(app, type) });
  const { id } = added;
  let { doc } = added;
  if (pending?.link) {
    const { from, side } = pending.link;
    const [source, target] = side === 'out' ? [from, id] : [id, from];
    const targetType = doc.nodes.find((n) => n.id === target)?.type;
    const spec = app.catalog.get(targetType);
    const maxInputs = spec ? inputsFor(spec, null) : Infinity;
    const linked = connect(doc, source, target, { maxInputs });
    if (!linked.error) doc = linked.doc;
  }
  store.commit(doc, { select: [id] });
  if (!at && !app.canvas.isVisible(id)) app.canvas.fit(); // keep every layer on screen
  return id;
}

export function deleteSelection(app) {
  const { store } = app;
  const { nodes, edges } = store.selection;
  if (!nodes.length && !edges.length) return false;
  let doc = removeEdges(store.doc, edges);
  doc = removeNodes(doc, nodes);
  store.commit(doc, { select: [] });
  return true;
}

export function duplicateSelection(app, ids = app.store.selection.nodes) {
  const { store } = app;
  if (!ids.length) return false;
  const { doc, ids: fresh } = pasteFragment(store.doc, copyFragment(store.doc, ids), { dx: 32, dy: NODE.h + 36 });
  store.commit(doc, { select: fresh });
  return true;
}

export function copySelection(app) {
  const { store } = app;
  if (!store.selection.nodes.length) return false;
  const fragment = copyFragment(store.doc, store.selection.nodes);
  app.clipboard = fragment;
  try { localStorage.setItem(CLIP_KEY, JSON.stringify(fragment)); } catch { /* best effort */ }
  return true;
}

export function cutSelection(app) {
  return copySelection(app) && deleteSelection(app);
}

export function paste(app) {
  let fragment = app.clipboard;
  if (!fragment) {
    try { fragment = JSON.parse(localStorage.getItem(CLIP_KEY) || 'null'); } catch { fragment = null; }
  }
  if (!fragment?.nodes?.length) return false;
  app.pasteCount = (app.pasteCount || 0) + 1;
  const { doc, ids } = pasteFragment(app.store.doc, fragment, { dx: 40 * app.pasteCount, dy: 40 * app.pasteCount });
  app.store.commit(doc, { select: ids });
  return true;
}

export function selectAll(app) {
  app.store.select({ nodes: app.store.doc.nodes.map((n) => n.id) });
  return true;
}

export function nudge(app, key, big) {
  const { store } = app;
  const ids = store.selection.nodes;
  if (!ids.length) return false;
  const step = big ? 40 : 8;
  const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[key];
  if (!d) return false;
  const moves = {};
  for (const n of store.doc.nodes) {
    if (ids.includes(n.id)) moves[n.id] = { x: (n.ui?.x || 0) + d[0], y: (n.ui?.y || 0) + d[1] };
  }
  store.commit(moveNodes(store.doc, moves), { key: `nudge:${ids.join(',')}` });
  return true;
}

/** Lay the design out left to right, then fit it on screen. */
export function tidy(app) {
  const { store, canvas } = app;
  if (!store.doc.nodes.length) return false;
  const s = canvas.size();
  const positions = tidyLayout(store.doc, { view: { w: s.w, h: s.h } });
  store.commit(moveNodes(store.doc, positions));
  canvas.fit();
  return true;
}
