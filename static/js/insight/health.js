// Gradient health: each layer's gradient norm over training on a log scale (uPlot), the layers
// flagged as vanishing, exploding or dead with what to try, and the tooltip of the badges that
// the canvas puts on those layers.

import { h, setText } from '../dom.js';
import { metric } from '../format.js';
import { cssVar } from './draw.js';
import { BADGES, LAYER_COLOURS, flagged, measureText } from './health-series.js';

export class HealthView {
  constructor(root, { uPlot, onNode = () => {} }) {
    this.uPlot = uPlot;
    this.onNode = onNode;
    this.history = null;
    this.frame = null;
    this.marker = null;
    this.plot = null;
    this.host = h('div', { class: 'ih-chart', 'aria-label': 'Gradient norm per layer (log scale)' });
    this.readout = h('p', { class: 'ib-readout' });
    this.chips = h('div', { class: 'ih-chips' });
    this.flags = h('div', { class: 'ih-flags' });
    this.empty = h('p', { class: 'insight-empty' }, 'Train to watch how strongly each layer is pushed by its gradients.');
    root.append(h('h3', { class: 'insight-h' }, 'Gradient norm per layer', h('span', { class: 'insight-h-note' }, 'log scale')),
      this.empty, this.host, this.readout, this.chips, this.flags,
      h('p', { class: 'insight-caption' }, 'A layer whose gradient is far below the others hardly learns (vanishing); one above 1,000 takes steps that overshoot (exploding).'));
    if (typeof ResizeObserver !== 'undefined') new ResizeObserver(() => this.resize()).observe(this.host);
  }

  setHistory(history) {
    this.history = history;
    this.visible = true;
  }

  /** The health frame being shown (live or from the timeline). */
  set(frame) {
    this.frame = frame || null;
    this.drawFlags();
  }

  setMarker(step) {
    this.marker = step;
    this.plot?.redraw(false);
  }

  /** Rebuild the chart (a theme change, new layers). */
  rebuild() {
    this.plot?.destroy();
    this.plot = null;
    this.draw();
  }

  draw() {
    const data = this.history?.data() || [[]];
    const hasData = data[0].length > 0;
    this.empty.hidden = hasData;
    this.host.hidden = !hasData;
    if (!hasData || !this.uPlot || !this.host.clientWidth) {
      this.drawChips();
      return;
    }
    const layers = this.history.layers.join('|');
    if (!this.plot || this.plotLayers !== layers) {
      this.plot?.destroy();
      this.plotLayers = layers;
      this.plot = this.build();
    }
    this.plot.setData(data);
    this.host.dataset.points = String(data[0].length);
    this.drawChips();
  }

  build() {
    const text = cssVar('--muted', '#667');
    const grid = cssVar('--grid-line', 'rgba(0,0,0,.08)');
    const font = '11.5px Inter, system-ui, sans-serif';
    const axis = { stroke: text, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    return new this.uPlot({
      width: this.host.clientWidth,
      height: 170,
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: { x: { time: false }, y: { distr: 3 } },
      axes: [{ ...axis, size: 30, values: (u, v) => v.map((x) => (x >= 1000 ? `${x / 1000}k` : x)) },
        { ...axis, size: 50, values: (u, v) => v.map((x) => (x == null ? '' : x.toExponential(0).replace('e+', 'e'))) }],
      series: [{ label: 'step' }, ...this.history.layers.map((id, i) => ({
        label: id, stroke: LAYER_COLOURS[i % LAYER_COLOURS.length], width: 2, spanGaps: true, points: { show: false },
      }))],
      hooks: { draw: [(u) => this.drawMarker(u)], setCursor: [(u) => this.hover(u)] },
    }, [[], ...this.history.layers.map(() => [])], this.host);
  }

  drawMarker(u) {
    if (this.marker == null) return;
    const x = Math.round(u.valToPos(this.marker, 'x', true));
    const { top, height } = u.bbox;
    const { ctx } = u;
    ctx.save();
    ctx.strokeStyle = cssVar('--accent', '#2457e6');
    ctx.lineWidth = 2 * (window.devicePixelRatio || 1);
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
    ctx.restore();
  }

  hover(u) {
    const i = u.cursor.idx;
    if (i == null) {
      setText(this.readout, '');
      return;
    }
    const parts = this.history.layers.map((id, k) => `${id} ${metric(u.data[k + 1][i])}`);
    setText(this.readout, `step ${u.data[0][i].toLocaleString('en-US')}: ${parts.join(' · ')}`);
  }

  resize() {
    if (this.plot && this.host.clientWidth) this.plot.setSize({ width: this.host.clientWidth, height: 170 });
  }

  drawChips() {
    const latest = this.frame?.gradients || this.history?.latest() || {};
    const layers = this.history?.layers || [];
    this.chips.replaceChildren(...layers.map((id, i) => {
      const chip = h('button', { type: 'button', class: 'ih-chip', title: `Show ${id} on the canvas`, dataset: { node: id } },
        h('i', { style: { background: LAYER_COLOURS[i % LAYER_COLOURS.length] } }), id,
        h('span', { class: 'ih-chip-value' }, metric(latest[id])));
      chip.addEventListener('click', () => this.onNode(id));
      return chip;
    }));
  }

  drawFlags() {
    const list = flagged(this.frame);
    const dead = Object.entries(this.frame?.nodes || {}).filter(([, n]) => typeof n.dead_fraction === 'number');
    const cards = list.map((f) => h('div', { class: 'ih-flag', dataset: { node: f.id, badges: f.badges.join(' ') } },
      h('div', { class: 'ih-flag-head' }, f.badges.map((b) => h('span', { class: `ih-badge ih-badge-${b}` }, BADGES[b]?.glyph || '!', ' ', BADGES[b]?.title || b)),
        h('b', {}, f.id), h('span', { class: 'ih-flag-measure' }, measureText(f, metric))),
      (f.hints || []).map((hint) => h('p', {}, hint))));
    const ok = this.frame && !list.length
      ? h('p', { class: 'ih-ok' }, '✓ Every layer gets gradients in a healthy range.') : null;
    const deadLine = dead.length ? h('p', { class: 'insight-caption' }, 'Dead units (ReLU outputs zero for every sample): ',
      dead.map(([id, n]) => `${id} ${Math.round(n.dead_fraction * 100)}%`).join(' · ')) : null;
    this.flags.replaceChildren(...cards, ok, deadLine);
  }
}

/** The tooltip of a node's health badge: what the badge means and what to try. */
export class BadgeTip {
  /** canvasRoot: the .canvas element; info(id) -> the node's run_health entry. */
  constructor(canvasRoot, info) {
    this.root = canvasRoot;
    this.info = info;
    this.el = h('div', { class: 'insight-tip canvas-overlay', role: 'tooltip', hidden: true });
    canvasRoot.append(this.el);
    canvasRoot.addEventListener('pointerover', (e) => {
      const badge = e.target.closest?.('.node-health');
      if (badge) this.show(badge);
    });
    canvasRoot.addEventListener('pointerout', (e) => {
      if (e.target.closest?.('.node-health') && !e.relatedTarget?.closest?.('.node-health')) this.hide();
    });
    canvasRoot.addEventListener('pointerdown', () => this.hide());
  }

  show(badge) {
    const id = badge.closest('.node')?.dataset.nodeId;
    const info = this.info(id);
    if (!info?.badges?.length) return;
    this.el.replaceChildren(
      ...info.badges.map((b, i) => h('div', { class: 'insight-tip-item' },
        h('b', {}, `${BADGES[b]?.glyph || '!'} ${BADGES[b]?.title || b}`),
        h('p', {}, info.hints?.[i] || BADGES[b]?.means || ''))),
      h('p', { class: 'insight-tip-foot' }, `${id}: ${measureText(info, metric) || 'measured on the last step'} · click for the chart`));
    this.el.hidden = false;
    const r = this.root.getBoundingClientRect();
    const b = badge.getBoundingClientRect();
    const w = this.el.offsetWidth;
    const x = Math.min(Math.max(8, b.left - r.left - 20), r.width - w - 8);
    const below = b.bottom - r.top + 8;
    const y = below + this.el.offsetHeight < r.height - 8 ? below : Math.max(8, b.top - r.top - this.el.offsetHeight - 8);
    this.el.style.transform = `translate(${x}px, ${y}px)`;
  }

  hide() {
    this.el.hidden = true;
  }
}
