// The layer palette: every catalog entry, grouped and searchable. Drag an item onto the canvas
// (pointer events, so mouse, pen and Playwright all work), or click it to add it.

import { h } from './dom.js';

const THRESHOLD = 5;

/** Catalog entries matching a search text, by type, group or description. Pure. */
export function filterCatalog(entries, text) {
  const words = String(text || '').toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return entries;
  return entries.filter((e) => {
    const hay = `${e.type} ${e.group} ${e.doc}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/** Entries grouped in catalog order: [[group, [entries]]]. Pure. */
export function groupCatalog(entries) {
  const groups = new Map();
  for (const e of entries) {
    if (!groups.has(e.group)) groups.set(e.group, []);
    groups.get(e.group).push(e);
  }
  return [...groups];
}

export class Palette {
  constructor(root, entries, { add, drop }) {
    this.root = root;
    this.entries = entries;
    this.hooks = { add, drop };
    this.search = root.querySelector('input[type=search]');
    this.list = root.querySelector('.palette-list');
    this.search.addEventListener('input', () => this.render());
    this.search.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        const first = this.list.querySelector('[data-layer-type]');
        if (first) {
          this.hooks.add(first.dataset.layerType);
          this.search.value = '';
          this.render();
          this.search.blur();
        }
      } else if (e.key === 'Escape') {
        this.search.value = '';
        this.render();
        this.search.blur();
      }
    });
    this.list.addEventListener('pointerdown', (e) => this.press(e));
    this.list.addEventListener('click', (e) => {
      const item = e.target.closest('[data-layer-type]');
      // One node per click; the second click of a double-click adds nothing more.
      if (item && !this.suppress && e.detail <= 1) this.hooks.add(item.dataset.layerType);
      this.suppress = false;
    });
    this.render();
  }

  render() {
    const shown = filterCatalog(this.entries, this.search.value);
    const groups = groupCatalog(shown).map(([group, items]) => h('section', { class: 'palette-group' },
      h('h3', { class: `palette-group-title group-${group.toLowerCase()}` }, group),
      items.map((e) => h('button', {
        class: `palette-item group-${e.group.toLowerCase()}`,
        type: 'button',
        dataset: { layerType: e.type },
        'aria-label': e.type, // the name stays the type; the description never reads as a command
        title: `${e.type}: ${e.doc}\nDrag onto the canvas, or click to add.`,
      }, h('span', { class: 'pi-name' }, e.type), h('span', { class: 'pi-doc' }, e.doc)))));
    const empty = shown.length ? null
      : h('p', { class: 'palette-empty' }, `No layer matches “${this.search.value}”.`);
    this.list.replaceChildren(...groups, ...(empty ? [empty] : []));
  }

  focusSearch() {
    this.search.focus();
    this.search.select();
  }

  press(e) {
    const item = e.target.closest('[data-layer-type]');
    if (!item || e.button !== 0) return;
    const type = item.dataset.layerType;
    const at = { x: e.clientX, y: e.clientY };
    let ghost = null;
    const move = (ev) => {
      if (!ghost && Math.hypot(ev.clientX - at.x, ev.clientY - at.y) < THRESHOLD) return;
      if (!ghost) {
        ghost = h('div', { class: `drag-ghost palette-item group-${item.className.match(/group-(\S+)/)?.[1] || ''}` },
          h('span', { class: 'pi-name' }, type));
        document.body.append(ghost);
        document.body.classList.add('is-dragging-layer');
      }
      ghost.style.transform = `translate(${ev.clientX + 8}px, ${ev.clientY + 8}px)`;
    };
    const up = (ev) => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      window.removeEventListener('pointercancel', up);
      if (!ghost) return;
      ghost.remove();
      document.body.classList.remove('is-dragging-layer');
      this.suppress = true;
      setTimeout(() => { this.suppress = false; }, 0);
      if (ev.type === 'pointerup') this.hooks.drop(type, ev.clientX, ev.clientY);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
    window.addEventListener('pointercancel', up);
  }
}
