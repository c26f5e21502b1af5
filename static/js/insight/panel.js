// The Insight panel: a column left of the canvas (where the palette sits while building) with one
// tab per view (boundary, a gan's generated samples, a pre-training layer's filters, one layer
// enlarged, gradient health, results, earlier runs) and the run's timeline at its foot. An "Insight" button in the canvas
// tools opens and closes it.

import { h, setAttr } from '../dom.js';

export const TABS = [
  { id: 'boundary', label: 'Boundary', title: 'The decision boundary over the data' },
  { id: 'generated', label: 'Generated', title: 'What the generator makes, over the discriminator\'s view of the plane' },
  { id: 'environment', label: 'Environment', title: 'The environment the agent plays: the episode now, the Q-values and, on a grid, the policy' },
  { id: 'filters', label: 'Filters', title: 'The layer being pre-trained: each hidden unit\'s weights as a picture' },
  { id: 'layer', label: 'Layer', title: 'One layer enlarged: its units and weights' },
  { id: 'health', label: 'Health', title: 'Gradient norm of each layer over time' },
  { id: 'results', label: 'Results', title: 'Confusion matrix and predictions on validation samples' },
  { id: 'runs', label: 'Runs', title: 'Earlier runs of this design, compared' },
];

const STORE_KEY = 'layerlab.insight.v1';

export class InsightPanel {
  /** workspace: the .workspace grid; before: the element the panel goes in front of. */
  constructor({ workspace, before, tools, onShow = () => {}, onLayout = () => {} }) {
    this.onShow = onShow;
    this.onLayout = onLayout;
    this.tabs = new Map();
    this.bodies = new Map();
    this.available = new Set(TABS.map((t) => t.id));
    this.current = this.remembered().tab || 'boundary';
    const list = h('div', { class: 'insight-tabs', role: 'tablist', 'aria-label': 'Insight views' });
    const bodies = h('div', { class: 'insight-bodies' });
    for (const tab of TABS) {
      const button = h('button', { type: 'button', class: 'insight-tab', role: 'tab', id: `insight-tab-${tab.id}`,
        title: tab.title, 'aria-controls': `insight-${tab.id}`, dataset: { tab: tab.id } }, tab.label);
      button.addEventListener('click', () => this.show(tab.id));
      const body = h('section', { class: `insight-body insight-${tab.id}`, id: `insight-${tab.id}`, role: 'tabpanel',
        'aria-labelledby': `insight-tab-${tab.id}`, hidden: true });
      this.tabs.set(tab.id, button);
      this.bodies.set(tab.id, body);
      list.append(button);
      bodies.append(body);
    }
    list.addEventListener('keydown', (e) => this.arrowKeys(e));
    const close = h('button', { type: 'button', class: 'btn btn-round insight-close', 'aria-label': 'Close Insight',
      title: 'Close Insight' }, '×');
    close.addEventListener('click', () => this.close());
    this.foot = h('footer', { class: 'insight-foot' });
    this.el = h('aside', { class: 'insight', 'aria-label': 'Insight', hidden: true },
      h('header', { class: 'insight-head' }, list, close), bodies, this.foot);
    workspace.insertBefore(this.el, before);
    this.toggleButton = h('button', { type: 'button', class: 'tool tool-text tool-insight', 'aria-pressed': 'false',
      dataset: { action: 'insight' }, title: 'Insight: the boundary, each layer, gradient health, results, earlier runs' },
    h('span', { class: 'tool-insight-dot', 'aria-hidden': 'true' }), 'Insight');
    this.toggleButton.addEventListener('click', () => this.toggle());
    tools.append(h('span', { class: 'tool-sep' }), this.toggleButton);
  }

  get isOpen() {
    return !this.el.hidden;
  }

  body(id) {
    return this.bodies.get(id);
  }

  /** Open the panel at a tab (the last one shown when none is given). */
  open(tab = this.current) {
    const wasOpen = this.isOpen;
    this.el.hidden = false;
    document.body.classList.add('has-insight');
    setAttr(this.toggleButton, 'aria-pressed', 'true');
    this.show(this.available.has(tab) ? tab : this.firstAvailable());
    if (!wasOpen) this.layoutChanged();
  }

  close() {
    if (!this.isOpen) return;
    this.el.hidden = true;
    document.body.classList.remove('has-insight');
    setAttr(this.toggleButton, 'aria-pressed', 'false');
    this.layoutChanged();
  }

  toggle() {
    if (this.isOpen) this.close();
    else this.open();
  }

  /** Show one tab (opens nothing: the panel may be closed). */
  show(id) {
    if (!this.available.has(id)) id = this.firstAvailable();
    this.current = id;
    this.remember();
    for (const [key, button] of this.tabs) {
      const on = key === id;
      setAttr(button, 'aria-selected', on ? 'true' : 'false');
      button.tabIndex = on ? 0 : -1;
      this.bodies.get(key).hidden = !on;
    }
    this.el.dataset.tab = id;
    if (this.isOpen) this.onShow(id);
  }

  /** Tabs that make no sense for this run (a boundary for images, results for regression) hide. */
  setAvailable(id, yes) {
    if (yes) this.available.add(id);
    else this.available.delete(id);
    this.tabs.get(id).hidden = !yes;
    if (!yes && this.current === id) this.show(this.firstAvailable());
  }

  firstAvailable() {
    return TABS.find((t) => this.available.has(t.id))?.id || 'layer';
  }

  arrowKeys(e) {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    const ids = TABS.map((t) => t.id).filter((id) => this.available.has(id));
    const next = ids[(ids.indexOf(this.current) + (e.key === 'ArrowRight' ? 1 : ids.length - 1)) % ids.length];
    this.show(next);
    this.tabs.get(next).focus();
    e.preventDefault();
  }

  layoutChanged() {
    this.remember();
    requestAnimationFrame(() => this.onLayout(this.isOpen));
  }

  remembered() {
    try { return JSON.parse(localStorage.getItem(STORE_KEY) || '{}'); } catch { return {}; }
  }

  remember() {
    try { localStorage.setItem(STORE_KEY, JSON.stringify({ tab: this.current, open: this.isOpen })); } catch { /* private mode */ }
  }
}
