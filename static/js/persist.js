// Where a design lives besides the canvas: localStorage (autosave), the URL hash (share links).
// Storage is injected so the logic runs in Node tests too.

export const AUTOSAVE_KEY = 'layerlab.autosave.v1';
export const RUN_KEY = 'layerlab.run.v1';

export function saveLocal(storage, doc, extra = {}) {
  try {
    storage.setItem(AUTOSAVE_KEY, JSON.stringify({ doc, savedAt: Date.now(), ...extra }));
    return true;
  } catch {
    return false; // private mode or quota: autosave is best effort
  }
}

export function loadLocal(storage) {
  try {
    const raw = storage.getItem(AUTOSAVE_KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

export function saveRun(storage, run) {
  try {
    if (run) storage.setItem(RUN_KEY, JSON.stringify(run));
    else storage.removeItem(RUN_KEY);
  } catch { /* best effort */ }
}

export function loadRun(storage) {
  try {
    return JSON.parse(storage.getItem(RUN_KEY) || 'null');
  } catch {
    return null;
  }
}

function toBase64Url(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

async function pipe(bytes, stream) {
  const out = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

/** The document, deflated and base64url-encoded for a "#doc=" share link. */
export async function encodeDoc(doc) {
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  return toBase64Url(await pipe(bytes, new CompressionStream('deflate-raw')));
}

export async function decodeDoc(text) {
  const bytes = await pipe(fromBase64Url(text), new DecompressionStream('deflate-raw'));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** "#design=abc" -> {design: "abc"}; "#doc=..." -> {doc: "..."}; anything else -> {} */
export function parseHash(hash) {
  const params = new URLSearchParams(String(hash || '').replace(/^#/, ''));
  const out = {};
  if (params.get('design')) out.design = params.get('design');
  if (params.get('doc')) out.doc = params.get('doc');
  return out;
}

/** A file name for a design: "Spiral MLP" -> "spiral-mlp.layerlab.json" */
export function fileName(name, ext = '.layerlab.json') {
  const stem = String(name || 'network').toLowerCase().replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '') || 'network';
  return `${stem}${ext}`;
}
