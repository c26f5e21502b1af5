// The network document as data: pure functions from a document to a new document.
// No DOM, no network: every edit returns a fresh copy so undo/redo is a list of documents.

export const FORMAT = 'layerlab.network';
export const VERSION = 1;
export const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

// Short id prefixes for new nodes (naming only; the catalog holds every layer rule).
const PREFIX = {
  Input: 'in', Linear: 'fc', Conv1d: 'conv', Conv2d: 'conv', Flatten: 'flat', Dropout: 'drop',
  BatchNorm1d: 'bn', BatchNorm2d: 'bn', LayerNorm: 'ln', MaxPool1d: 'pool', MaxPool2d: 'pool',
  AvgPool2d: 'pool', AdaptiveAvgPool2d: 'gap', MultiheadAttention: 'attn',
  TransformerEncoderLayer: 'enc', Embedding: 'emb', Reshape: 'reshape', Identity: 'id',
};

const clone = (value) => JSON.parse(JSON.stringify(value));

/** A new empty design. Its training section is the caller's: the page starts one from the
 * training schema (GET /api/training), and what a section leaves out takes the server's default. */
export function emptyDocument(name = 'Untitled network', training = {}) {
  return { format: FORMAT, version: VERSION, name, nodes: [], edges: [], training: clone(training) };
}

/** A checked, copied document: fills missing lists and drops nothing (unknown keys round-trip). */
export function normalizeDocument(input) {
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    throw new Error('a design must be a JSON object');
  }
  if (input.format !== undefined && input.format !== FORMAT) {
    throw new Error(`not a Layerlab design (format is ${JSON.stringify(input.format)})`);
  }
  const doc = clone(input);
  doc.format = FORMAT;
  doc.version = doc.version ?? VERSION;
  doc.name = typeof doc.name === 'string' && doc.name ? doc.name : 'Untitled network';
  doc.nodes = Array.isArray(doc.nodes) ? doc.nodes : [];
  doc.edges = Array.isArray(doc.edges) ? doc.edges : [];
  doc.training = doc.training && typeof doc.training === 'object' && !Array.isArray(doc.training)
    ? doc.training : {};
  return doc;
}

export function getNode(doc, id) {
  return doc.nodes.find((n) => n.id === id) || null;
}

export function incoming(doc, id) {
  return doc.edges.filter((e) => e.target === id);
}

export function outgoing(doc, id) {
  return doc.edges.filter((e) => e.source === id);
}

/** An id not used in the document, built from a base like "fc" -> "fc1", "fc2", ... */
export function uniqueId(doc, base, taken = new Set()) {
  const used = new Set([...doc.nodes.map((n) => n.id), ...taken]);
  const stem = String(base).replace(/[^A-Za-z0-9_-]/g, '').slice(0, 56) || 'node';
  if (stem === 'in' && !used.has('in')) return 'in'; // a lone Input is plain "in"
  for (let i = 1; ; i += 1) {
    const id = `${stem}${i}`;
    if (!used.has(id)) return id;
  }
}

/** The id prefix a new node of this type gets. */
export function idPrefix(type) {
  return PREFIX[type] || String(type).toLowerCase();
}

/** Add a node; returns {doc, id}. */
export function addNode(doc, type, { x = 0, y = 0, params = {}, id } = {}) {
  const next = clone(doc);
  const nodeId = id && !getNode(next, id) && ID_RE.test(id) ? id : uniqueId(next, idPrefix(type));
  const node = { id: nodeId, type, ui: { x: Math.round(x), y: Math.round(y) } };
  if (Object.keys(params).length) node.params = clone(params);
  next.nodes.push(node);
  return { doc: next, id: nodeId };
}

/** Remove nodes and every edge touching them. */
export function removeNodes(doc, ids) {
  const gone = new Set(ids);
  const next = clone(doc);
  next.nodes = next.nodes.filter((n) => !gone.has(n.id));
  next.edges = next.edges.filter((e) => !gone.has(e.source) && !gone.has(e.target));
  return next;
}

export function edgeKey(edge) {
  return `${edge.source}->${edge.target}`;
}

/** Remove edges given by key "source->target". */
export function removeEdges(doc, keys) {
  const gone = new Set(keys);
  const next = clone(doc);
  next.edges = next.edges.filter((e) => !gone.has(edgeKey(e)));
  return next;
}

/** Set canvas positions: moves is {id: {x, y}}. */
export function moveNodes(doc, moves) {
  const next = clone(doc);
  for (const node of next.nodes) {
    const to = moves[node.id];
    if (to) node.ui = { ...(node.ui || {}), x: Math.round(to.x), y: Math.round(to.y) };
  }
  return next;
}

/** True when target can already reach source: adding source->target would close a cycle. */
export function wouldCycle(doc, source, target) {
  if (source === target) return true;
  const seen = new Set();
  const stack = [target];
  while (stack.length) {
    const id = stack.pop();
    if (id === source) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const e of outgoing(doc, id)) stack.push(e.target);
  }
  return false;
}

/**
 * Connect source -> target. maxInputs (from the catalog) replaces the oldest input when full.
 * Returns {doc, error}; doc is unchanged (same object) when nothing was done.
 */
export function connect(doc, source, target, { maxInputs = Infinity } = {}) {
  if (!getNode(doc, source) || !getNode(doc, target)) return { doc, error: 'no such node' };
  if (source === target) return { doc, error: 'a layer cannot feed itself' };
  if (doc.edges.some((e) => e.source === source && e.target === target)) return { doc, error: null };
  if (maxInputs === 0) return { doc, error: `${target} takes no input` };
  if (wouldCycle(doc, source, target)) return { doc, error: 'that connection would make a loop' };
  const next = clone(doc);
  const inputs = incoming(next, target);
  if (inputs.length >= maxInputs) {
    const drop = new Set(inputs.slice(0, inputs.length - maxInputs + 1).map(edgeKey));
    next.edges = next.edges.filter((e) => !drop.has(edgeKey(e)));
  }
  next.edges.push({ source, target });
  return { doc: next, error: null };
}

/** Set (or with undefined, clear back to the default) one param of a node. */
export function setParam(doc, id, name, value) {
  const next = clone(doc);
  const node = getNode(next, id);
  if (!node) return doc;
  const params = { ...(node.params || {}) };
  if (value === undefined) delete params[name];
  else params[name] = value;
  if (Object.keys(params).length) node.params = params;
  else delete node.params;
  return next;
}

/** Why a new id is not acceptable, or null. */
export function idProblem(doc, oldId, newId) {
  if (newId === oldId) return null;
  if (!ID_RE.test(newId)) return 'use 1-64 letters, digits, _ or -';
  if (getNode(doc, newId)) return `"${newId}" is already taken`;
  return null;
}

/** Rename a node and the edges that name it. */
export function renameNode(doc, oldId, newId) {
  if (idProblem(doc, oldId, newId)) return doc;
  const next = clone(doc);
  for (const n of next.nodes) if (n.id === oldId) n.id = newId;
  for (const e of next.edges) {
    if (e.source === oldId) e.source = newId;
    if (e.target === oldId) e.target = newId;
  }
  return next;
}

/** The chosen nodes and the edges between them, as a paste-able fragment. */
export function copyFragment(doc, ids) {
  const keep = new Set(ids);
  return {
    nodes: clone(doc.nodes.filter((n) => keep.has(n.id))),
    edges: clone(doc.edges.filter((e) => keep.has(e.source) && keep.has(e.target))),
  };
}

/** Paste a fragment with fresh ids, shifted by (dx, dy); returns {doc, ids}. */
export function pasteFragment(doc, fragment, { dx = 40, dy = 40 } = {}) {
  const next = clone(doc);
  const rename = {};
  const taken = new Set();
  const hasInput = next.nodes.some((n) => n.type === 'Input');
  for (const node of fragment.nodes || []) {
    if (node.type === 'Input' && hasInput) continue; // one Input per design
    const base = String(node.id).replace(/\d+$/, '') || idPrefix(node.type);
    const id = uniqueId(next, base, taken);
    taken.add(id);
    rename[node.id] = id;
    const ui = node.ui || { x: 0, y: 0 };
    next.nodes.push({ ...clone(node), id, ui: { ...ui, x: ui.x + dx, y: ui.y + dy } });
  }
  for (const e of fragment.edges || []) {
    if (rename[e.source] && rename[e.target]) {
      next.edges.push({ ...clone(e), source: rename[e.source], target: rename[e.target] });
    }
  }
  return { doc: next, ids: Object.values(rename) };
}

/** Set a value deep in the document: path like ["training", "optimizer", "lr"]. */
export function setPath(doc, path, value) {
  const next = clone(doc);
  let obj = next;
  for (const key of path.slice(0, -1)) {
    if (!obj[key] || typeof obj[key] !== 'object') obj[key] = {};
    obj = obj[key];
  }
  const last = path[path.length - 1];
  if (value === undefined) delete obj[last];
  else obj[last] = clone(value);
  return next;
}

/** Read a value deep in the document (undefined when absent). */
export function getPath(doc, path) {
  let obj = doc;
  for (const key of path) {
    if (obj == null) return undefined;
    obj = obj[key];
  }
  return obj;
}

/** The Input node's shape follows the dataset: set it (null means "from the dataset"). */
export function setInputShape(doc, shape) {
  const input = doc.nodes.find((n) => n.type === 'Input');
  if (!input) return doc;
  return setParam(doc, input.id, 'shape', shape == null ? undefined : shape);
}

/** Bounding box of node positions given node sizes {w, h}. */
export function bounds(doc, size, ids = null) {
  const pick = ids ? doc.nodes.filter((n) => ids.includes(n.id)) : doc.nodes;
  if (!pick.length) return null;
  let x0 = Infinity; let y0 = Infinity; let x1 = -Infinity; let y1 = -Infinity;
  for (const n of pick) {
    const { x = 0, y = 0 } = n.ui || {};
    x0 = Math.min(x0, x); y0 = Math.min(y0, y);
    x1 = Math.max(x1, x + size.w); y1 = Math.max(y1, y + size.h);
  }
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}
