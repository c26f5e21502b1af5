// Set the theme before the first paint (a classic script: CSP allows 'self', not inline code).
(function bootTheme() {
  var saved = null;
  try { saved = window.localStorage.getItem('layerlab.theme'); } catch { saved = null; }
  var dark = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches;
  document.documentElement.dataset.theme = saved === 'light' || saved === 'dark' ? saved : (dark ? 'dark' : 'light');
}());
