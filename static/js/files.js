// The design as a file: New, Examples, Save (server), Share link, Download / Upload of the
// .layerlab.json document, and Export (ONNX with the ONNX Runtime check, PyTorch source).

import { ApiError, api, attachmentName, designDocument, designId, designOwner } from './api.js';
import { downloadBlob, h, toast } from './dom.js';
import { emptyDocument, moveNodes, normalizeDocument, setPath } from './graph.js';
import { tidyLayout } from './layout.js';
import { encodeDoc, fileName } from './persist.js';
import { withTrainedWeights } from './start-weights.js';
import { sharedRunId } from './talk/share.js';

/** Open a document as the current design (one undo step back to the previous one). */
export function openDocument(app, doc, { tidy = false, designId: id = null } = {}) {
  let next = normalizeDocument(doc);
  if (tidy || next.nodes.some((n) => !n.ui)) next = tidied(app, next);
  app.designId = id;
  app.savedJson = id ? JSON.stringify(next) : null;
  app.store.load(next);
  requestAnimationFrame(() => app.canvas.fit());
}

/** The document laid out left to right for the canvas as it is now. */
export function tidied(app, doc) {
  const s = app.canvas.size();
  return moveNodes(doc, tidyLayout(doc, { view: { w: s.w, h: s.h } }));
}

export function newDesign(app) {
  const training = app.store.doc.training;
  const doc = emptyDocument(undefined, app.trainingSchema.starter());
  if (training?.dataset) doc.training.dataset = { name: training.dataset.name };
  openDocument(app, doc);
  app.onNew?.();
  toast('New design. Undo (Ctrl+Z) brings the previous one back.');
}

/** The Examples menu; an example that ships trained weights also opens with them (its
 * training.init then names them, so the first Train starts where its training ended). */
export function fillExamples(app, menu, button) {
  const open = (ex, trained) => {
    close();
    openDocument(app, trained ? withTrainedWeights(normalizeDocument(ex.document), ex) : ex.document, { tidy: true });
    toast(trained ? `Opened “${ex.name}” with its trained weights: Train starts from them`
      : `Opened “${ex.name}”`, { kind: 'ok' });
  };
  menu.replaceChildren(...app.examples.map((ex) => h('div', { class: 'menu-row' }, h('button', {
    type: 'button', role: 'menuitem', class: 'menu-item', dataset: { example: ex.id }, onclick: () => open(ex, false),
  }, h('span', { class: 'menu-item-title' }, ex.name), h('span', { class: 'menu-item-doc' }, ex.description)),
  ex.weights ? h('button', { type: 'button', role: 'menuitem', class: 'menu-aside', dataset: { trainedExample: ex.id },
    'aria-label': 'Open with trained weights', title: 'Open it with its trained weights: Train starts from them',
    onclick: () => open(ex, true) }, 'Trained') : null)));
  const close = bindMenu(menu, button);
}

/** A menu that its button opens and closes (Escape, a click elsewhere, arrows between items);
 * returns close(). */
export function bindMenu(menu, button) {
  const close = () => {
    menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
  };
  button.addEventListener('click', (e) => {
    e.stopPropagation();
    menu.hidden = !menu.hidden;
    button.setAttribute('aria-expanded', String(!menu.hidden));
    if (!menu.hidden) menu.querySelector('button')?.focus();
  });
  document.addEventListener('click', (e) => { if (!menu.contains(e.target)) close(); });
  menu.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { close(); button.focus(); }
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const items = [...menu.querySelectorAll('button')];
      const i = items.indexOf(document.activeElement);
      items[(i + (e.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length]?.focus();
      e.preventDefault();
    }
  });
  return close;
}

/**
 * Save to the server; the URL becomes /#design=<id> so a reload or a share opens it. A design
 * this browser did not make (a share link) is saved as a new design of its own: the sharer's
 * stays as it was.
 */
export async function save(app) {
  const doc = app.store.doc;
  try {
    let body = null;
    let copied = false;
    if (app.designId && designOwner(app.designId)) {
      try {
        body = await api.updateDesign(app.designId, doc);
      } catch (err) {
        if (!(err instanceof ApiError && (err.status === 403 || err.status === 404))) throw err;
      }
    }
    if (!body) {
      copied = Boolean(app.designId);
      body = await api.createDesign(doc);
    }
    const id = designId(body) || app.designId;
    app.designId = id;
    app.savedJson = JSON.stringify(doc);
    if (id) history.replaceState(null, '', `${location.pathname}${location.search}#design=${encodeURIComponent(id)}`);
    app.onSaved?.();
    toast(copied ? `Saved as your own copy of “${doc.name}”; the shared design is unchanged`
      : `Saved “${doc.name}”`, { kind: 'ok' });
    return id;
  } catch (err) {
    toast(`Could not save: ${err.message}`, { kind: 'error', timeout: 8000 });
    return null;
  }
}

/** Delete the open design from the server (this browser's own only); the editor keeps it. */
export async function deleteDesign(app) {
  const id = app.designId;
  if (!id || !designOwner(id)) {
    toast('Only a design saved from this browser can be deleted.', { kind: 'error' });
    return false;
  }
  try {
    await api.deleteDesign(id);
    app.designId = null;
    app.savedJson = null;
    history.replaceState(null, '', `${location.pathname}${location.search}`);
    toast(`Deleted the saved “${app.store.doc.name}”; it stays open here until you close it`, { kind: 'ok' });
    return true;
  } catch (err) {
    toast(`Could not delete: ${err.message}`, { kind: 'error', timeout: 8000 });
    return false;
  }
}

export async function loadSaved(id) {
  return designDocument(await api.getDesign(id));
}

/**
 * A link that opens this design: the saved id when the server keeps designs, else the doc itself;
 * with a finished run of this very design, also that run (its charts and trained weights).
 */
export async function share(app) {
  let url;
  const id = app.savedJson === JSON.stringify(app.store.doc) ? app.designId : await save(app);
  if (id) url = `${location.origin}/#design=${encodeURIComponent(id)}`;
  else url = `${location.origin}/#doc=${await encodeDoc(app.store.doc)}`;
  const run = sharedRunId(app.runClient, app.store.doc);
  if (run) url += `&run=${encodeURIComponent(run)}`;
  await copyLink(url, run ? 'Link copied: this design with its trained run' : 'Link to this design copied');
  return url;
}

export async function copyLink(url, message) {
  try {
    await navigator.clipboard.writeText(url);
    toast(message, { kind: 'ok' });
  } catch {
    const input = h('input', { class: 'toast-link', value: url, readonly: true });
    toast(h('span', {}, 'Copy this link: ', input), { timeout: 15000 });
    input.select();
  }
}

export function download(app) {
  const doc = app.store.doc;
  downloadBlob(new Blob([`${JSON.stringify(doc, null, 2)}\n`], { type: 'application/json' }), fileName(doc.name));
}

/** Read a chosen or dropped .layerlab.json file into the editor. */
export async function upload(app, file) {
  try {
    const doc = JSON.parse(await file.text());
    openDocument(app, doc);
    toast(`Opened ${file.name}`, { kind: 'ok' });
  } catch (err) {
    toast(`${file.name} is not a Layerlab design: ${err.message}`, { kind: 'error', timeout: 8000 });
  }
}

export function rename(app, name) {
  const clean = name.trim() || 'Untitled network';
  if (clean !== app.store.doc.name) app.store.commit(setPath(app.store.doc, ['name'], clean), { key: 'name' });
}

/**
 * Export the model. ONNX: the current run's trained weights when the server has them, else
 * fresh weights from the document; the server's ONNX Runtime check is shown.
 */
export async function exportModel(app, format, button) {
  const doc = app.store.doc;
  const run = app.runClient;
  let res = null;
  let trained = false;
  button?.classList.add('is-busy');
  try {
    if (format === 'onnx' && run.runId && run.status && run.status.state !== 'queued') {
      try {
        res = await api.runModel(run.runId);
        trained = true;
      } catch { res = null; }
    }
    if (!res) res = await api.exportDoc(run.runId && app.readOnly ? run.document : doc, format);
    const blob = await res.blob();
    const ext = format === 'onnx' ? '.onnx' : '.py';
    const name = attachmentName(res, fileName(doc.name, ext));
    downloadBlob(blob, name);
    const check = res.headers.get('X-Layerlab-Check');
    // The trained model can be tried in the page next to the server (try-onnx.js).
    if (trained) app.onModelExported?.({ blob, name, runId: run.runId, document: run.document || doc, check });
    const what = `${format === 'onnx' ? 'ONNX' : 'PyTorch'} model${trained ? ' (trained weights)' : format === 'onnx' ? ' (fresh weights)' : ''}`;
    if (check) {
      const ok = /^ok\b/.test(check);
      button?.setAttribute('data-check', check);
      toast(`${what} downloaded. ONNX Runtime check: ${check}`, { kind: ok ? 'ok' : 'error', timeout: 9000 });
    } else toast(`${what} downloaded.`, { kind: 'ok' });
  } catch (err) {
    toast(`Export failed: ${err.message}`, { kind: 'error', timeout: 9000 });
  } finally {
    button?.classList.remove('is-busy');
  }
}
