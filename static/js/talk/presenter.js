// Presenter mode: the design, the charts and the run readable from the back of a room (large
// type, thick lines, high contrast), full screen when the browser allows it, and only the
// panels the speaker chose. The `hide` URL flag hides panels in any mode (see panels.js).

import { $, h, toast } from '../dom.js';
import { PANELS, PRESENTER_HIDES, hiddenPanels, parseHide, wantsPresenter } from './panels.js';

const PANELS_KEY = 'layerlab.talk.panels.v1';
const ICON_FULL = 'M3 7V3h4M13 3h4v4M17 13v4h-4M7 17H3v-4';
const ICON_EXIT_FULL = 'M7 3v4H3M17 7h-4V3M13 17v-4h4M3 13h4v4';

function icon(d) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  el.setAttribute('viewBox', '0 0 20 20');
  el.setAttribute('class', 'icon');
  el.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', d);
  for (const [k, v] of Object.entries({ fill: 'none', stroke: 'currentColor', 'stroke-width': '1.9',
    'stroke-linecap': 'round', 'stroke-linejoin': 'round' })) path.setAttribute(k, v);
  el.append(path);
  return el;
}

export class Presenter {
  /** app: the page; audience: the Audience (its count and card go in the presenter bar). */
  constructor(app, audience, { storage = window.localStorage } = {}) {
    this.app = app;
    this.audience = audience;
    this.storage = storage;
    this.on = false;
    const url = parseHide(window.location.search, window.location.hash);
    this.urlHidden = url.hidden;
    if (url.unknown.length) {
      toast(`Unknown panel in the hide flag: ${url.unknown.join(', ')}. Known: ${Object.keys(PANELS).join(', ')}`,
        { kind: 'error', timeout: 10000 });
    }
    this.presenterHidden = this.loadChoice();
    this.buildButton();
    this.buildBar();
    document.addEventListener('fullscreenchange', () => this.renderFullscreen());
    this.apply();
    if (wantsPresenter(window.location.search, window.location.hash)) this.set(true, { fullscreen: false });
  }

  loadChoice() {
    try {
      const saved = JSON.parse(this.storage.getItem(PANELS_KEY) || 'null');
      if (Array.isArray(saved)) return saved.filter((n) => n in PANELS);
    } catch { /* private mode: the defaults */ }
    return [...PRESENTER_HIDES];
  }

  saveChoice() {
    try { this.storage.setItem(PANELS_KEY, JSON.stringify(this.presenterHidden)); } catch { /* best effort */ }
  }

  /** The Present button, in the top bar beside the theme switch. */
  buildButton() {
    const theme = $('[data-action=theme]');
    this.button = h('button', { type: 'button', class: 'btn talk-present', dataset: { talk: 'present' },
      title: 'Presenter mode: large type, full screen, chosen panels (P)', onclick: () => this.toggle() },
    icon('M2.5 4h15v9h-15zM10 13v3.5M6.5 16.5h7'), 'Present');
    theme?.before(this.button);
  }

  /** The presenter's own bar: watchers, audience link, panels, full screen, exit. */
  buildBar() {
    this.fullButton = h('button', { type: 'button', class: 'btn', dataset: { talk: 'fullscreen' },
      onclick: () => this.toggleFullscreen() });
    this.menu = h('div', { class: 'menu-pop talk-panels', role: 'group', 'aria-label': 'Panels shown', hidden: true },
      h('p', { class: 'talk-panels-title' }, 'Show in presenter mode'),
      Object.entries(PANELS).map(([name, label]) => h('label', { class: 'field-check' },
        h('input', { type: 'checkbox', name: `panel_${name}`, dataset: { panel: name },
          onchange: (e) => this.choose(name, e.target.checked) }), h('span', {}, label))));
    const panels = h('button', { type: 'button', class: 'btn', 'aria-haspopup': 'true', 'aria-expanded': 'false',
      dataset: { talk: 'panels' }, onclick: (e) => { e.stopPropagation(); this.toggleMenu(); } }, 'Panels ▾');
    document.addEventListener('click', (e) => { if (!this.menu.contains(e.target)) this.toggleMenu(false); });
    this.bar = h('div', { class: 'talk-bar', role: 'toolbar', 'aria-label': 'Presenter' },
      this.audience.watchersElement(),
      h('button', { type: 'button', class: 'btn', dataset: { talk: 'audience' },
        title: 'Show the audience link and its QR code (A)', onclick: () => this.audience.open() },
      icon('M3 3h5v5H3zM12 3h5v5h-5zM3 12h5v5H3zM12 12h2v2h-2zM15 15h2v2h-2z'), 'Audience'),
      h('div', { class: 'menu' }, panels, this.menu),
      this.fullButton,
      h('button', { type: 'button', class: 'btn btn-accent', dataset: { talk: 'exit' },
        title: 'Leave presenter mode (P)', onclick: () => this.set(false) }, 'Exit'));
    $('.toolbar-spacer')?.after(this.bar);
    this.renderFullscreen();
  }

  toggleMenu(show = this.menu.hidden) {
    this.menu.hidden = !show;
    this.menu.previousElementSibling.setAttribute('aria-expanded', String(show));
  }

  /** The speaker shows (checked) or hides a panel; remembered on this computer. */
  choose(name, shown) {
    const set = new Set(this.presenterHidden);
    if (shown) set.delete(name);
    else set.add(name);
    this.presenterHidden = [...set];
    this.saveChoice();
    this.apply();
  }

  toggle() {
    return this.set(!this.on);
  }

  /** Enter or leave presenter mode; entering asks for full screen (a key or click allows it). */
  set(on, { fullscreen = true } = {}) {
    this.on = Boolean(on);
    document.body.classList.toggle('presenting', this.on);
    if (this.on) this.audience.chipElement();
    this.apply();
    if (this.on && fullscreen) this.enterFullscreen();
    if (!this.on && document.fullscreenElement) document.exitFullscreen().catch(() => {});
    return true;
  }

  /** Body classes from the panel table: `hide-<name>` for each hidden panel. */
  apply() {
    const hidden = new Set(hiddenPanels({ url: this.urlHidden, presenting: this.on, presenter: this.presenterHidden }));
    for (const name of Object.keys(PANELS)) document.body.classList.toggle(`hide-${name}`, hidden.has(name));
    document.body.classList.toggle('talk-layout', this.on || hidden.size > 0 || this.app.readOnly);
    for (const box of this.menu.querySelectorAll('input[data-panel]')) {
      box.checked = !hidden.has(box.dataset.panel);
      box.disabled = this.urlHidden.includes(box.dataset.panel); // the link's choice wins
    }
    // Views drawn on <canvas> take their sizes from CSS: draw them again for the new layout.
    requestAnimationFrame(() => {
      this.app.charts?.build();
      this.app.preview?.draw();
      this.app.canvas?.fit();
    });
  }

  async enterFullscreen() {
    const root = document.documentElement;
    if (!document.fullscreenEnabled || !root.requestFullscreen) {
      toast('Full screen is not available here: press F11 (Ctrl+Cmd+F on a Mac).', { timeout: 6000 });
      return false;
    }
    try {
      await root.requestFullscreen({ navigationUI: 'hide' });
      return true;
    } catch {
      toast('The browser refused full screen: press F11 (Ctrl+Cmd+F on a Mac), or click Full screen.',
        { timeout: 6000 });
      return false;
    }
  }

  toggleFullscreen() {
    if (document.fullscreenElement) return document.exitFullscreen().catch(() => {});
    return this.enterFullscreen();
  }

  renderFullscreen() {
    const full = Boolean(document.fullscreenElement);
    this.fullButton.replaceChildren(icon(full ? ICON_EXIT_FULL : ICON_FULL), full ? 'Leave full screen' : 'Full screen');
    this.fullButton.title = full ? 'Leave full screen (Esc)' : 'Full screen (F11 if the browser refuses)';
    if (this.on) requestAnimationFrame(() => this.app.canvas?.fit());
  }
}
