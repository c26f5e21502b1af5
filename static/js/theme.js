// Light and dark themes: the choice is remembered; without one, the system's preference wins.

const KEY = 'layerlab.theme';

export function currentTheme() {
  return document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light';
}

/** Switch theme; onChange lets canvas-drawn views (charts, previews) repaint in the new colours. */
export function toggleTheme(onChange = () => {}) {
  const next = currentTheme() === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  try { localStorage.setItem(KEY, next); } catch { /* private mode */ }
  onChange(next);
  return next;
}

/** Follow the system while the user has not chosen. */
export function followSystem(onChange = () => {}) {
  const media = window.matchMedia?.('(prefers-color-scheme: dark)');
  media?.addEventListener('change', (e) => {
    let saved = null;
    try { saved = localStorage.getItem(KEY); } catch { /* private mode */ }
    if (saved) return;
    document.documentElement.dataset.theme = e.matches ? 'dark' : 'light';
    onChange(currentTheme());
  });
}
