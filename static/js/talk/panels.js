// Which panels the page shows. One table names every panel that can be hidden; the `hide` URL
// flag (TensorFlow Playground's `_hide`), presenter mode and the panel menu all read it. Pure.

/** Panel name -> what it is (the help text of the panel menu and of docs/EDITOR.md). */
export const PANELS = {
  palette: 'Layer palette',
  toolbar: 'Design and export buttons',
  inspector: 'Inspector and training settings',
  run: 'Run card: dataset, buttons, speed, progress',
  preview: 'Dataset preview and decision boundary',
  charts: 'Loss and accuracy charts',
  'chart-tools': 'Smoothing and log-scale controls',
  status: 'Status strip under the canvas',
  'canvas-tools': 'Undo, zoom and tidy buttons',
  side: 'The whole right-hand column',
  insight: 'Insight panel (when open)',
};

/** Hidden in presenter mode unless the speaker shows them again from the panel menu. */
export const PRESENTER_HIDES = ['palette', 'toolbar', 'inspector', 'status', 'chart-tools', 'canvas-tools'];

const FALSE = new Set(['0', 'false', 'no', 'off']);

function flags(search, hash) {
  const query = new URLSearchParams(String(search || '').replace(/^\?/, ''));
  const fragment = new URLSearchParams(String(hash || '').replace(/^#/, ''));
  return [query, fragment];
}

/**
 * The panels a URL hides: `?hide=palette,inspector` or `#hide=charts` (both may be given; a
 * name may also repeat the flag, `?hide=palette&hide=charts`). Returns {hidden: [...], unknown}.
 */
export function parseHide(search = '', hash = '') {
  const hidden = new Set();
  const unknown = [];
  for (const params of flags(search, hash)) {
    for (const value of params.getAll('hide')) {
      for (const raw of value.split(/[\s,]+/)) {
        const name = raw.trim().toLowerCase();
        if (!name) continue;
        if (name in PANELS) hidden.add(name);
        else if (!unknown.includes(name)) unknown.push(name);
      }
    }
  }
  return { hidden: [...hidden], unknown };
}

/** `?present` or `#present` (any value but 0/false/no/off) opens the page in presenter mode. */
export function wantsPresenter(search = '', hash = '') {
  return flags(search, hash).some((p) => p.has('present') && !FALSE.has(p.get('present').toLowerCase()));
}

/** The panels hidden now: the URL's, plus the presenter's choice while presenting. */
export function hiddenPanels({ url = [], presenting = false, presenter = PRESENTER_HIDES } = {}) {
  return [...new Set([...url, ...(presenting ? presenter : [])])].filter((n) => n in PANELS);
}
