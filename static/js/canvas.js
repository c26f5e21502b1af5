// The canvas: HTML nodes and SVG edges in one panned/zoomed "world". It draws a document, a
// validation report and a selection; pointer input lives in canvas-input.js.

import { h, setAttr, setText, svg } from './dom.js';
import { inputsFor, keyParams } from './fields.js';
import { paramsText, shapeText } from './format.js';
import { bounds, edgeKey } from './graph.js';
import { drawFrame, useThemeColours } from './node-viz.js';
import { NODE } from './layout.js';
import { edgeMid, edgePath, fitBox, identity, toWorld, zoomAt } from './viewport.js';

const groupClass = (group) => `group-${String(group || 'other').toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;

export class Canvas {
  constructor(root, { catalog }) {
    this.root = root; // the .canvas element (the viewport)
    this.catalog = catalog; // Map type -> catalog entry
    this.view = identity();
    this.world = root.querySelector('.world');
    this.edgeLayer = root.querySelector('svg.edges');
    this.labelLayer = root.querySelector('.edge-labels');
    this.nodeLayer = root.querySelector('.nodes');
    this.tempPath = svg('path', { class: 'edge edge-temp', d: '' });
    this.edgeLayer.append(this.tempPath);
    this.nodes = new Map(); // id -> {el, parts}
    this.edges = new Map(); // key -> {path, hit, label}
    this.doc = null;
    this.onView = () => {};
    this.tip = root.querySelector('.canvas-tip');
    this.nodeLayer.addEventListener('pointerover', (e) => this.showTip(e.target.closest('.node')));
    this.nodeLayer.addEventListener('pointerout', (e) => {
      if (!e.relatedTarget || !e.relatedTarget.closest?.('.node')) this.showTip(null);
    });
    this.applyView();
  }

  /** Draw run_activations frames inside their nodes ({id: frame}); null clears them. */
  setActivations(frames) {
    if (frames) useThemeColours();
    this.frames = frames;
    for (const [id, entry] of this.nodes) {
      const frame = frames?.[id];
      entry.el.classList.toggle('has-viz', Boolean(frame));
      if (frame) {
        entry.parts.viz.title = `${frame.kind === 'plane' ? 'Each unit over the input plane'
          : frame.kind === 'maps' ? 'Feature maps of one sample' : 'Unit values for one sample'} · ${frame.units ?? ''} units`;
        drawFrame(entry.parts.viz, frame);
      }
    }
  }

  /** The node a run is pre-training now (a deep belief net's layer), marked; null: none. */
  setPretraining(id) {
    if (id === this.pretraining) return;
    this.pretraining = id;
    for (const [nodeId, entry] of this.nodes) this.markPretraining(nodeId, entry);
  }

  markPretraining(id, { el, parts }) {
    const on = id === this.pretraining;
    el.classList.toggle('is-pretraining', on);
    parts.phase.hidden = !on;
  }

  /** Gradient health per node ({id: {badges, hints}}): vanishing, exploding, dead units. */
  setHealth(nodes) {
    for (const [id, entry] of this.nodes) {
      const info = nodes?.[id];
      const badges = info?.badges || [];
      setAttr(entry.el, 'data-health', badges.length ? badges.join(' ') : null);
      // Its tooltip (what the badge means, what to try) is insight/health.js's BadgeTip.
      setAttr(entry.parts.health, 'aria-label', badges.length ? (info.hints || badges).join('\n') : null);
      setText(entry.parts.health, badges.includes('exploding') ? '↯' : badges.includes('dead') ? '∅' : '∇');
    }
  }

  /** The full problem of a node, under it, kept inside the canvas. */
  showTip(nodeEl) {
    const message = nodeEl?.getAttribute('data-error');
    const busy = document.body.classList.contains('is-dragging-layer')
      || /\bis-(move|connect|pan|band)\b/.test(this.root.className);
    if (!message || busy) {
      this.tip.hidden = true;
      return;
    }
    this.tip.textContent = message;
    this.tip.hidden = false;
    const r = this.root.getBoundingClientRect();
    const n = nodeEl.getBoundingClientRect();
    const w = this.tip.offsetWidth;
    const x = Math.min(Math.max(8, n.left - r.left), r.width - w - 8);
    const below = n.bottom - r.top + 10;
    const y = below + this.tip.offsetHeight < r.height - 8 ? below : n.top - r.top - this.tip.offsetHeight - 10;
    this.tip.style.transform = `translate(${x}px, ${y}px)`;
  }

  size() {
    const r = this.root.getBoundingClientRect();
    return { w: r.width, h: r.height, left: r.left, top: r.top };
  }

  /** Client (page) coordinates to world coordinates. */
  clientToWorld(cx, cy) {
    const r = this.size();
    return toWorld(this.view, cx - r.left, cy - r.top);
  }

  setView(view) {
    this.view = view;
    this.applyView();
  }

  applyView() {
    const { x, y, k } = this.view;
    this.world.style.transform = `translate(${x}px, ${y}px) scale(${k})`;
    this.root.style.setProperty('--grid-size', `${24 * k}px`);
    this.root.style.backgroundPosition = `${x}px ${y}px`;
    this.onView(this.view);
  }

  zoomBy(factor, at = null) {
    const s = this.size();
    const p = at || { x: s.w / 2, y: s.h / 2 };
    this.setView(zoomAt(this.view, p.x, p.y, factor));
  }

  /** Show every node (or the given ones). */
  fit(ids = null) {
    if (!this.doc) return;
    const box = bounds(this.doc, NODE, ids);
    const s = this.size();
    this.setView(box ? fitBox(box, s, { padding: 56, maxZoom: 1.15 }) : identity());
  }

  /** The part of the world on screen: {x, y, w, h}. */
  visibleWorld() {
    const s = this.size();
    const { x, y, k } = this.view;
    return { x: -x / k, y: -y / k, w: s.w / k, h: s.h / k };
  }

  /** Is node `id` wholly on screen? */
  isVisible(id) {
    const n = this.doc?.nodes.find((m) => m.id === id);
    if (!n) return false;
    const v = this.visibleWorld();
    const { x = 0, y = 0 } = n.ui || {};
    return x >= v.x && y >= v.y && x + NODE.w <= v.x + v.w && y + NODE.h <= v.y + v.h;
  }

  /** Is any node at least partly on screen? */
  anyVisible() {
    const s = this.size();
    const { x, y, k } = this.view;
    return (this.doc?.nodes || []).some((n) => {
      const sx = (n.ui?.x || 0) * k + x;
      const sy = (n.ui?.y || 0) * k + y;
      return sx < s.w && sy < s.h && sx + NODE.w * k > 0 && sy + NODE.h * k > 0;
    });
  }

  /** Pan (not zoom) so a node is on screen. */
  revealNode(id) {
    const node = this.doc?.nodes.find((n) => n.id === id);
    if (!node) return;
    const s = this.size();
    const { x = 0, y = 0 } = node.ui || {};
    const { k } = this.view;
    const sx = x * k + this.view.x;
    const sy = y * k + this.view.y;
    const m = 40;
    let dx = 0;
    let dy = 0;
    if (sx < m) dx = m - sx;
    else if (sx + NODE.w * k > s.w - m) dx = s.w - m - (sx + NODE.w * k);
    if (sy < m) dy = m - sy;
    else if (sy + NODE.h * k > s.h - 90) dy = s.h - 90 - (sy + NODE.h * k);
    if (dx || dy) this.setView({ ...this.view, x: this.view.x + dx, y: this.view.y + dy });
  }

  /** Draw the document. report: last validation; selection: {nodes, edges}. */
  render(doc, report, selection, { running = false } = {}) {
    this.doc = doc;
    const errors = errorsByNode(report);
    const selectedNodes = new Set(selection.nodes);
    const selectedEdges = new Set(selection.edges);
    const seen = new Set();
    for (const node of doc.nodes) {
      seen.add(node.id);
      let entry = this.nodes.get(node.id);
      if (!entry || entry.type !== node.type) {
        entry?.el.remove();
        entry = this.createNode(node);
        this.nodes.set(node.id, entry);
        this.nodeLayer.append(entry.el);
        this.markPretraining(node.id, entry);
      }
      this.updateNode(entry, node, report, errors.get(node.id), selectedNodes.has(node.id));
    }
    for (const [id, entry] of this.nodes) {
      if (!seen.has(id)) {
        entry.el.remove();
        this.nodes.delete(id);
      }
    }
    this.renderEdges(doc, report, selectedEdges, running);
    this.root.classList.toggle('is-empty', doc.nodes.length === 0);
  }

  createNode(node) {
    const spec = this.catalog.get(node.type);
    const parts = {
      type: h('span', { class: `node-type${node.type.length > 14 ? ' is-long' : ''}` }, node.type),
      id: h('span', { class: 'node-id' }),
      params: h('div', { class: 'node-params' }),
      shape: h('span', { class: 'node-shape' }),
      count: h('span', { class: 'node-count' }),
      badge: h('span', { class: 'node-badge', 'aria-hidden': 'true' }, '!'),
      viz: h('canvas', { class: 'node-viz', 'aria-hidden': 'true' }),
      health: h('span', { class: 'node-health' }),
      phase: h('span', { class: 'node-phase', hidden: true, title: 'This layer is being pre-trained as a restricted Boltzmann machine' },
        'pre-training'),
    };
    // An in-port where some training kind feeds the node (a gan's Input): wiring the generator
    // before choosing the kind works, and validation says what to change.
    const hasIn = !spec || inputsFor(spec, null) > 0;
    const el = h('div', { class: `node ${groupClass(spec?.group)}${node.type === 'Input' ? ' node-input' : ''}`,
      dataset: { nodeId: node.id, type: node.type }, role: 'group', tabindex: '0' },
    hasIn ? h('span', { class: 'port port-in', dataset: { port: 'in' }, title: 'Input: drag here from an output' }) : null,
    h('div', { class: 'node-head' }, h('span', { class: 'node-chip', 'aria-hidden': 'true' }), parts.type, parts.id),
    parts.params,
    parts.viz,
    h('div', { class: 'node-foot' }, parts.shape, parts.count),
    parts.badge,
    parts.health,
    parts.phase,
    h('span', { class: 'port port-out', dataset: { port: 'out' }, title: 'Output: drag to another layer' }));
    return { el, parts, type: node.type };
  }

  updateNode(entry, node, report, errs, selected) {
    const { el, parts } = entry;
    const spec = this.catalog.get(node.type);
    const { x = 0, y = 0 } = node.ui || {};
    const transform = `translate(${x}px, ${y}px)`;
    if (el.style.transform !== transform) el.style.transform = transform;
    setAttr(el, 'data-node-id', node.id);
    setText(parts.id, node.id);
    setAttr(el, 'aria-label', `${node.type} ${node.id}`);
    const shape = report?.shapes?.[node.id];
    setText(parts.shape, shape ? shapeText(shape) : '?');
    parts.shape.classList.toggle('unknown', !shape);
    const count = report?.params?.[node.id];
    setText(parts.count, count ? paramsText(count) : '');
    const message = errs ? errs.map((e) => e.message).join('\n') : null;
    setAttr(el, 'data-error', message);
    if (message) {
      setText(parts.params, errs[0].message);
      parts.params.classList.add('is-error');
    } else {
      const shown = keyParams(spec, node.params);
      setText(parts.params, shown.map((p) => `${p.name} ${p.text}`).join(' · '));
      parts.params.classList.remove('is-error');
    }
    setAttr(el, 'title', message);
    el.classList.toggle('is-selected', selected);
  }

  portPoint(node, side) {
    const { x = 0, y = 0 } = node.ui || {};
    return side === 'out' ? { x: x + NODE.w, y: y + NODE.h / 2 } : { x, y: y + NODE.h / 2 };
  }

  renderEdges(doc, report, selectedEdges, running) {
    const byId = new Map(doc.nodes.map((n) => [n.id, n]));
    const seen = new Set();
    for (const edge of doc.edges) {
      const src = byId.get(edge.source);
      const dst = byId.get(edge.target);
      if (!src || !dst) continue;
      const key = edgeKey(edge);
      seen.add(key);
      let entry = this.edges.get(key);
      if (!entry) {
        entry = {
          path: svg('path', { class: 'edge' }),
          hit: svg('path', { class: 'edge-hit', 'data-edge': key }),
          label: h('div', { class: 'edge-label', dataset: { edge: key } }),
        };
        this.edgeLayer.insertBefore(entry.hit, this.tempPath);
        this.edgeLayer.insertBefore(entry.path, entry.hit);
        this.labelLayer.append(entry.label);
        this.edges.set(key, entry);
      }
      const a = this.portPoint(src, 'out');
      const b = this.portPoint(dst, 'in');
      // A wire back to the left runs in the gap just above its target (or below, going up).
      const lane = b.y >= a.y ? b.y - NODE.h / 2 - 34 : b.y + NODE.h / 2 + 34;
      const d = edgePath(a, b, lane);
      if (entry.path.getAttribute('d') !== d) {
        entry.path.setAttribute('d', d);
        entry.hit.setAttribute('d', d);
      }
      const selected = selectedEdges.has(key);
      entry.path.classList.toggle('is-selected', selected);
      entry.path.classList.toggle('is-flowing', running);
      const shape = report?.shapes?.[edge.source];
      const mid = edgeMid(a, b, lane);
      const text = shape ? shapeText(shape) : '';
      setText(entry.label, text);
      // Between two close nodes the label would cover the ports: the nodes show the shape anyway.
      const room = b.x - a.x;
      const cramped = room > -24 && room < text.length * 7.6 + 34 && Math.abs(b.y - a.y) < NODE.h;
      entry.label.hidden = !shape || cramped;
      entry.label.style.transform = `translate(${mid.x}px, ${mid.y}px) translate(-50%, -50%)`;
      entry.label.classList.toggle('is-selected', selected);
    }
    for (const [key, entry] of this.edges) {
      if (!seen.has(key)) {
        entry.path.remove();
        entry.hit.remove();
        entry.label.remove();
        this.edges.delete(key);
      }
    }
  }

  /** The rubber-band line while connecting; null hides it. */
  drawTemp(from, to, reverse = false) {
    if (!from) {
      this.tempPath.setAttribute('d', '');
      return;
    }
    this.tempPath.setAttribute('d', reverse ? edgePath(to, from) : edgePath(from, to));
  }

  nodeElement(id) {
    return this.nodes.get(id)?.el || null;
  }
}

/** {nodeId: [errors]} from a validation report. */
export function errorsByNode(report) {
  const map = new Map();
  for (const e of report?.errors || []) {
    if (!e.node) continue;
    if (!map.has(e.node)) map.set(e.node, []);
    map.get(e.node).push(e);
  }
  return map;
}

