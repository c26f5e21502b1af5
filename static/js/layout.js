// Tidy layout: a layered left-to-right drawing of the DAG (Sugiyama-style, simplified).
// Pure: takes a document, returns {id: {x, y}}. Long chains wrap into bands when that makes the
// design larger on screen, so a 12-layer CNN stays readable on a 1280x720 projector.

export const NODE = Object.freeze({ w: 176, h: 92 }); // a node's box in world units
const GAP_X = 112; // room between columns for the shape label on each edge
const GAP_Y = 36;
const BAND_GAP = 70;

/** Layer index per node: longest path from a source, so every edge points rightwards. */
export function layerOf(doc) {
  const ids = doc.nodes.map((n) => n.id);
  const indeg = new Map(ids.map((id) => [id, 0]));
  const out = new Map(ids.map((id) => [id, []]));
  for (const e of doc.edges) {
    if (!indeg.has(e.source) || !indeg.has(e.target)) continue;
    indeg.set(e.target, indeg.get(e.target) + 1);
    out.get(e.source).push(e.target);
  }
  const layer = new Map(ids.map((id) => [id, 0]));
  const queue = ids.filter((id) => indeg.get(id) === 0);
  const done = new Set();
  while (queue.length) {
    const id = queue.shift();
    done.add(id);
    for (const t of out.get(id)) {
      layer.set(t, Math.max(layer.get(t), layer.get(id) + 1));
      indeg.set(t, indeg.get(t) - 1);
      if (indeg.get(t) === 0) queue.push(t);
    }
  }
  const last = Math.max(0, ...layer.values());
  for (const id of ids) if (!done.has(id)) layer.set(id, last + 1); // nodes on a cycle
  return layer;
}

/** Order nodes inside each layer by the barycenter of their neighbours (a few sweeps). */
export function orderLayers(doc, layer) {
  const count = Math.max(-1, ...layer.values()) + 1;
  const layers = Array.from({ length: count }, () => []);
  for (const n of doc.nodes) layers[layer.get(n.id)].push(n.id);
  const preds = new Map(doc.nodes.map((n) => [n.id, []]));
  const succs = new Map(doc.nodes.map((n) => [n.id, []]));
  for (const e of doc.edges) {
    if (preds.has(e.target) && succs.has(e.source)) {
      preds.get(e.target).push(e.source);
      succs.get(e.source).push(e.target);
    }
  }
  const pos = new Map();
  const index = () => layers.forEach((ids) => ids.forEach((id, i) => pos.set(id, i)));
  index();
  const sweep = (range, neighbours) => {
    for (const l of range) {
      const bary = (id) => {
        const ns = neighbours.get(id).filter((n) => pos.has(n));
        return ns.length ? ns.reduce((s, n) => s + pos.get(n), 0) / ns.length : pos.get(id);
      };
      const keyed = layers[l].map((id) => [bary(id), pos.get(id), id]);
      keyed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      layers[l] = keyed.map((k) => k[2]);
      layers[l].forEach((id, i) => pos.set(id, i));
    }
  };
  const down = [...Array(count).keys()].slice(1);
  for (let i = 0; i < 4; i += 1) {
    sweep(down, preds);
    sweep([...down].reverse().map((l) => l - 1), succs);
  }
  return layers;
}

function place(layers, columns) {
  const positions = {};
  let top = 0;
  let width = 0;
  for (let start = 0; start < layers.length; start += columns) {
    const band = layers.slice(start, start + columns);
    const rows = Math.max(...band.map((ids) => ids.length));
    const bandH = rows * NODE.h + (rows - 1) * GAP_Y;
    band.forEach((ids, col) => {
      const colH = ids.length * NODE.h + (ids.length - 1) * GAP_Y;
      ids.forEach((id, row) => {
        positions[id] = { x: col * (NODE.w + GAP_X),
          y: top + (bandH - colH) / 2 + row * (NODE.h + GAP_Y) };
      });
    });
    width = Math.max(width, band.length * (NODE.w + GAP_X) - GAP_X);
    top += bandH + BAND_GAP;
  }
  return { positions, width, height: top - BAND_GAP };
}

/**
 * Positions for every node. view: {w, h} of the canvas in pixels; when given, long designs
 * wrap into bands if that shows them at least 30% larger.
 */
export function tidyLayout(doc, { view = null, origin = { x: 40, y: 40 } } = {}) {
  if (!doc.nodes.length) return {};
  const layers = orderLayers(doc, layerOf(doc));
  const scaleFor = (p) => (view ? Math.min(1.25, (view.w - 80) / p.width,
    (view.h - 80) / p.height) : 1);
  let best = place(layers, layers.length);
  if (view && scaleFor(best) < 0.75) { // wrap only what would otherwise be small on screen
    const flat = scaleFor(best);
    for (let c = layers.length - 1; c >= 2; c -= 1) {
      const candidate = place(layers, c);
      if (scaleFor(candidate) > Math.max(flat * 1.3, scaleFor(best) + 0.01)) best = candidate;
    }
  }
  const out = {};
  for (const [id, p] of Object.entries(best.positions)) {
    out[id] = { x: Math.round(origin.x + p.x), y: Math.round(origin.y + p.y) };
  }
  return out;
}

/**
 * A free spot for a new node: right of `after` when given, else right of the last node, else
 * near a point. Inside `view` (the visible world rectangle {x, y, w, h}) a row that would run
 * off the right edge wraps below, so clicked-in layers stay on screen.
 */
export function freeSpot(doc, { after = null, near = null, view = null } = {}) {
  const occupied = (x, y) => doc.nodes.some((n) => {
    const p = n.ui || { x: 0, y: 0 };
    return Math.abs(p.x - x) < NODE.w * 0.9 && Math.abs(p.y - y) < NODE.h * 0.9;
  });
  const base = after?.ui || (doc.nodes.length ? doc.nodes[doc.nodes.length - 1].ui : null);
  let start;
  if (near) start = { x: near.x - NODE.w / 2, y: near.y - NODE.h / 2 };
  else if (base) start = { x: (base.x || 0) + NODE.w + GAP_X, y: base.y || 0 };
  else start = view ? { x: view.x + 40, y: view.y + 80 } : { x: 40, y: 40 };
  if (!near && base && view && start.x + NODE.w > view.x + view.w - 24) {
    const left = Math.min(...doc.nodes.map((n) => n.ui?.x ?? 0));
    start = { x: Math.max(left, view.x + 24), y: (base.y || 0) + NODE.h + GAP_Y + 24 };
  }
  let { y } = start;
  for (let i = 0; i < 50 && occupied(start.x, y); i += 1) y += NODE.h + GAP_Y;
  return { x: Math.round(start.x), y: Math.round(y) };
}
