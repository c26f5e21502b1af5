// Pointer and wheel input on the canvas: move, select, rubber band, connect, pan and zoom.
// Edits go to the store as one undo step each; drags preview without committing.

import { inputsFor } from './fields.js';
import { connect, edgeKey, moveNodes } from './graph.js';
import { NODE } from './layout.js';
import { intersects, panBy, rectFrom, zoomAt } from './viewport.js';

const THRESHOLD = 4; // pixels before a press becomes a drag

export function attachCanvasInput(canvas, { store, catalog, readOnly = false, hooks }) {
  const root = canvas.root;
  const band = root.querySelector('.rubber-band');
  let gesture = null;
  let spaceHeld = false;

  const maxInputs = (id) => {
    const node = store.doc.nodes.find((n) => n.id === id);
    const spec = catalog.get(node?.type);
    return spec ? inputsFor(spec, null) : Infinity; // validation names a kind's own limit
  };

  const local = (e) => {
    const r = root.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };

  function start(e) {
    if (e.button !== 0 && e.button !== 1) return;
    if (e.target.closest('.canvas-overlay')) return;
    canvas.showTip(null);
    hooks.cancelQuickAdd();
    root.focus({ preventScroll: true });
    const at = { x: e.clientX, y: e.clientY };
    const port = e.target.closest('[data-port]');
    const nodeEl = e.target.closest('.node');
    const edgeEl = e.target.closest('[data-edge]');
    if (e.button === 1 || spaceHeld || readOnly && !nodeEl) {
      gesture = { kind: 'pan', at, view: canvas.view, moved: false };
    } else if (port && nodeEl && !readOnly) {
      gesture = { kind: 'connect', at, from: nodeEl.dataset.nodeId, side: port.dataset.port, moved: false };
    } else if (nodeEl) {
      const id = nodeEl.dataset.nodeId;
      const sel = store.selection.nodes;
      if (e.shiftKey) store.select({ nodes: [id] }, { additive: true });
      else if (!sel.includes(id)) store.select({ nodes: [id] });
      const ids = store.selection.nodes.includes(id) ? store.selection.nodes : [id];
      const origin = Object.fromEntries(store.doc.nodes.filter((n) => ids.includes(n.id))
        .map((n) => [n.id, { ...(n.ui || { x: 0, y: 0 }) }]));
      gesture = { kind: readOnly ? 'none' : 'move', at, id, origin, moved: false, shift: e.shiftKey };
    } else if (edgeEl && !readOnly) {
      store.select({ edges: [edgeEl.dataset.edge] }, { additive: e.shiftKey });
      gesture = { kind: 'none', at, moved: false };
    } else if (e.shiftKey && !readOnly) {
      gesture = { kind: 'band', at, base: [...store.selection.nodes], moved: false };
    } else {
      gesture = { kind: 'pan', at, view: canvas.view, moved: false, clear: true };
    }
    root.setPointerCapture(e.pointerId);
    root.classList.add(`is-${gesture.kind}`);
    e.preventDefault();
  }

  function move(e) {
    if (!gesture) return;
    const dx = e.clientX - gesture.at.x;
    const dy = e.clientY - gesture.at.y;
    if (!gesture.moved && Math.hypot(dx, dy) < THRESHOLD) return;
    gesture.moved = true;
    const k = canvas.view.k;
    if (gesture.kind === 'pan') canvas.setView(panBy(gesture.view, dx, dy));
    else if (gesture.kind === 'move') {
      const moves = {};
      for (const [id, p] of Object.entries(gesture.origin)) {
        moves[id] = { x: Math.round((p.x + dx / k) / 4) * 4, y: Math.round((p.y + dy / k) / 4) * 4 };
      }
      gesture.moves = moves;
      hooks.preview(moveNodes(store.doc, moves));
    } else if (gesture.kind === 'connect') {
      const node = store.doc.nodes.find((n) => n.id === gesture.from);
      const p = canvas.portPoint(node, gesture.side);
      const to = canvas.clientToWorld(e.clientX, e.clientY);
      canvas.drawTemp(p, to, gesture.side === 'in');
      markTarget(e);
    } else if (gesture.kind === 'band') {
      const a = local({ clientX: gesture.at.x, clientY: gesture.at.y });
      const r = rectFrom(a, local(e));
      Object.assign(band.style, { left: `${r.x}px`, top: `${r.y}px`, width: `${r.w}px`, height: `${r.h}px` });
      band.hidden = false;
      const wa = canvas.clientToWorld(gesture.at.x, gesture.at.y);
      const wr = rectFrom(wa, canvas.clientToWorld(e.clientX, e.clientY));
      const hit = store.doc.nodes.filter((n) => intersects(wr, { ...(n.ui || { x: 0, y: 0 }), ...NODE }))
        .map((n) => n.id);
      store.select({ nodes: [...new Set([...gesture.base, ...hit])] });
    }
  }

  let marked = null;
  function markTarget(e) {
    const el = document.elementFromPoint(e.clientX, e.clientY)?.closest('.node');
    const target = el && el.dataset.nodeId !== gesture.from ? el : null;
    if (marked !== target) {
      marked?.classList.remove('is-drop-target');
      target?.classList.add('is-drop-target');
      marked = target;
    }
  }

  function end(e) {
    if (!gesture) return;
    const g = gesture;
    gesture = null;
    root.classList.remove(`is-${g.kind}`);
    if (root.hasPointerCapture(e.pointerId)) root.releasePointerCapture(e.pointerId);
    if (g.kind === 'pan' && !g.moved && g.clear) store.clearSelection();
    if (g.kind === 'move') {
      if (g.moved && g.moves) store.commit(moveNodes(store.doc, g.moves), { key: null });
      else if (!g.moved && !g.shift && store.selection.nodes.length > 1) store.select({ nodes: [g.id] });
      else hooks.preview(null);
    }
    if (g.kind === 'connect') finishConnect(g, e);
    if (g.kind === 'band') band.hidden = true;
  }

  function finishConnect(g, e) {
    canvas.drawTemp(null);
    marked?.classList.remove('is-drop-target');
    marked = null;
    const el = document.elementFromPoint(e.clientX, e.clientY)?.closest('.node');
    if (!g.moved) return;
    if (!el) { // a wire dropped on empty canvas: pick the layer to put there
      hooks.quickAdd(canvas.clientToWorld(e.clientX, e.clientY), { from: g.from, side: g.side });
      return;
    }
    const other = el.dataset.nodeId;
    if (other === g.from) return;
    const [source, target] = g.side === 'out' ? [g.from, other] : [other, g.from];
    const { doc, error } = connect(store.doc, source, target, { maxInputs: maxInputs(target) });
    if (error) hooks.notify(error);
    else if (doc !== store.doc) store.commit(doc, { key: null });
    if (!error) store.select({ edges: [edgeKey({ source, target })] });
  }

  function wheel(e) {
    if (e.target.closest('.canvas-overlay')) return;
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 33 : e.deltaMode === 2 ? 400 : 1;
    const factor = Math.exp(-e.deltaY * unit * (e.ctrlKey ? 0.01 : 0.0015));
    const p = local(e);
    canvas.setView(zoomAt(canvas.view, p.x, p.y, factor));
  }

  root.addEventListener('pointerdown', start);
  root.addEventListener('pointermove', move);
  root.addEventListener('pointerup', end);
  root.addEventListener('pointercancel', end);
  root.addEventListener('wheel', wheel, { passive: false });
  root.addEventListener('dblclick', (e) => {
    if (e.target.closest('.canvas-overlay')) return;
    const nodeEl = e.target.closest('.node');
    if (nodeEl) hooks.editNode(nodeEl.dataset.nodeId);
    else hooks.quickAdd(canvas.clientToWorld(e.clientX, e.clientY));
  });
  // Keyboard: Tab reaches each layer (it is selected), Enter edits it.
  root.addEventListener('focusin', (e) => {
    const nodeEl = e.target.closest?.('.node');
    const id = nodeEl?.dataset.nodeId;
    const byKeyboard = nodeEl?.matches(':focus-visible'); // a click selects in pointerdown
    if (id && byKeyboard && !store.selection.nodes.includes(id)) store.select({ nodes: [id] });
  });
  root.addEventListener('keydown', (e) => {
    const nodeEl = e.target.closest?.('.node');
    if (nodeEl && e.key === 'Enter') {
      hooks.editNode(nodeEl.dataset.nodeId);
      e.preventDefault();
    }
  });
  window.addEventListener('keydown', (e) => {
    if (e.code === 'Space' && !e.repeat && root.contains(e.target)) {
      spaceHeld = true;
      root.classList.add('is-space');
      e.preventDefault();
    }
  });
  window.addEventListener('keyup', (e) => {
    if (e.code === 'Space') {
      spaceHeld = false;
      root.classList.remove('is-space');
    }
  });
}
