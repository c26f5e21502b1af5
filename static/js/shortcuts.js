// Keyboard shortcuts: one table drives both the key handling and the help overlay.

import { h, typingInto } from './dom.js';

export const SHORTCUTS = [
  { group: 'Edit', keys: ['Delete', 'Backspace'], action: 'delete', label: 'Delete the selection' },
  { group: 'Edit', keys: ['Mod+D'], action: 'duplicate', label: 'Duplicate the selection' },
  { group: 'Edit', keys: ['Mod+C'], action: 'copy', label: 'Copy' },
  { group: 'Edit', keys: ['Mod+X'], action: 'cut', label: 'Cut' },
  { group: 'Edit', keys: ['Mod+V'], action: 'paste', label: 'Paste' },
  { group: 'Edit', keys: ['Mod+Z'], action: 'undo', label: 'Undo' },
  { group: 'Edit', keys: ['Mod+Shift+Z', 'Mod+Y'], action: 'redo', label: 'Redo' },
  { group: 'Edit', keys: ['Mod+A'], action: 'selectAll', label: 'Select every layer' },
  { group: 'Edit', keys: ['Escape'], action: 'escape', label: 'Clear the selection / close' },
  { group: 'Edit', keys: ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown'], action: 'nudge', label: 'Nudge (Shift: further)' },
  { group: 'Edit', keys: ['/'], action: 'search', label: 'Search the layer palette' },
  { group: 'View', keys: ['F'], action: 'fit', label: 'Fit the design to the screen' },
  { group: 'View', keys: ['L'], action: 'tidy', label: 'Tidy layout (left to right)' },
  { group: 'View', keys: ['+', '='], action: 'zoomIn', label: 'Zoom in' },
  { group: 'View', keys: ['-'], action: 'zoomOut', label: 'Zoom out' },
  { group: 'View', keys: ['0'], action: 'zoomReset', label: 'Zoom to 100%' },
  { group: 'View', keys: ['Shift+T'], action: 'theme', label: 'Light / dark theme' },
  { group: 'View', keys: ['?'], action: 'help', label: 'This help' },
  { group: 'Design', keys: ['Mod+S'], action: 'save', label: 'Save to the server' },
  { group: 'Design', keys: ['Mod+Enter'], action: 'train', label: 'Train' },
  { group: 'Design', keys: ['Mod+.'], action: 'stop', label: 'Stop the run' },
];

export const MOUSE = [
  ['Drag a palette item', 'Add a layer where you drop it (or click it)'],
  ['Drag from ● out to ● in', 'Connect two layers'],
  ['Drag the background', 'Pan (also Space + drag, middle button)'],
  ['Shift + drag the background', 'Rubber-band select'],
  ['Shift + click', 'Add to / remove from the selection'],
  ['Wheel', 'Zoom around the pointer'],
  ['Double-click a layer', 'Edit its first setting'],
];

/** The combo string of a key event: "Mod+Shift+Z", "Delete", "?" (pure, unit-tested). */
export function comboOf(e) {
  let key = e.key;
  if (key === ' ') key = 'Space';
  const letter = key.length === 1 && /[a-z]/i.test(key);
  if (letter) key = key.toUpperCase();
  const parts = [];
  if (e.ctrlKey || e.metaKey) parts.push('Mod');
  if (e.altKey) parts.push('Alt');
  // Shift only counts for letters and named keys: "?" is already a shifted "/".
  if (e.shiftKey && (letter || key.length > 1)) parts.push('Shift');
  parts.push(key);
  return parts.join('+');
}

const INDEX = new Map(SHORTCUTS.flatMap((s) => s.keys.map((k) => [k, s.action])));

/** More shortcuts from a feature (talk/keys.js): they join the table and the help; a key they
 * name is theirs from then on. An entry's `display` is what the help shows for its keys. */
export function addShortcuts(entries) {
  for (const s of entries) {
    SHORTCUTS.push(s);
    for (const k of s.keys) INDEX.set(k, s.action);
  }
}

/** The action for a key event, or null. Arrow keys with Shift still nudge. */
export function actionFor(e) {
  const combo = comboOf(e);
  if (INDEX.has(combo)) return INDEX.get(combo);
  if (/^Shift\+Arrow/.test(combo)) return 'nudge';
  return null;
}

/** Listen for shortcuts; run(action, event) returns true when it handled the key. */
export function bindShortcuts(run) {
  window.addEventListener('keydown', (e) => {
    const action = actionFor(e);
    if (!action) return;
    const typing = typingInto(e.target);
    const global = ['save', 'train', 'stop', 'undo', 'redo'].includes(action) && (e.ctrlKey || e.metaKey);
    if (typing && !global && action !== 'escape') return;
    if (typing && (action === 'undo' || action === 'redo')) return; // the field's own undo
    if (run(action, e)) e.preventDefault();
  });
}

const pretty = (k) => k.replace('Mod', navigator.platform?.startsWith('Mac') ? '⌘' : 'Ctrl')
  .replace('Arrow', '').replace('Delete', 'Del');

/** Fill the help overlay from the tables. */
export function renderHelp(root) {
  const groups = [...new Set(SHORTCUTS.map((s) => s.group))];
  root.querySelector('.help-body').replaceChildren(
    ...groups.map((g) => h('section', { class: 'help-group' }, h('h3', {}, g),
      h('dl', {}, SHORTCUTS.filter((s) => s.group === g).flatMap((s) => [
        h('dt', {}, (s.display ? [s.display] : s.action === 'nudge' ? ['←↑→↓'] : s.keys.slice(0, 2).map(pretty)).map((k) => h('kbd', {}, k))),
        h('dd', {}, s.label)])))),
    h('section', { class: 'help-group' }, h('h3', {}, 'Mouse'),
      h('dl', { class: 'help-mouse' }, MOUSE.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))));
}
