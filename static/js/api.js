// The HTTP routes of CONTRACTS.md §3, as functions. Errors become ApiError with the server's
// {error, message, details}.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `request failed (${status})`);
    this.status = status;
    this.code = body?.error || 'http_error';
    this.details = body?.details || body?.errors || [];
  }
}

async function request(method, url, body, { raw = false, headers = {} } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(url, init);
  if (!res.ok) {
    let payload = null;
    try { payload = await res.json(); } catch { /* not JSON */ }
    throw new ApiError(res.status, payload);
  }
  return raw ? res : res.json();
}

const OWNERS_KEY = 'layerlab.owners.v1'; // {design id: owner secret} of designs this browser made
const TOKENS_KEY = 'layerlab.run-tokens.v1'; // {run id: token} of runs this browser started
const KEPT = 500; // entries kept per map (oldest dropped)

function readMap(key) {
  try {
    const map = JSON.parse(localStorage.getItem(key) || '{}');
    return map && typeof map === 'object' && !Array.isArray(map) ? map : {};
  } catch { return {}; }
}

function remember(key, id, secret) {
  if (!id || typeof secret !== 'string') return;
  const map = readMap(key);
  delete map[id];
  map[id] = secret;
  const ids = Object.keys(map);
  ids.slice(0, Math.max(0, ids.length - KEPT)).forEach((old) => delete map[old]);
  try { localStorage.setItem(key, JSON.stringify(map)); } catch { /* best effort */ }
}

function forget(key, id) {
  const map = readMap(key);
  if (!(id in map)) return;
  delete map[id];
  try { localStorage.setItem(key, JSON.stringify(map)); } catch { /* best effort */ }
}

/** The owner secret of a design this browser saved (null: someone else's, or unknown). */
export const designOwner = (id) => readMap(OWNERS_KEY)[id] ?? null;
/** Keep a run's token so its earlier runs can be deleted from this page later. */
export const rememberRunToken = (runId, token) => remember(TOKENS_KEY, runId, token);
/** The token of a run this browser started, or null. */
export const runToken = (runId) => readMap(TOKENS_KEY)[runId] ?? null;

function browserOwner() {
  const secrets = Object.values(readMap(OWNERS_KEY));
  return secrets.length ? { 'X-Layerlab-Owner': secrets[secrets.length - 1] } : {};
}

async function createDesign(doc) {
  const body = await request('POST', '/api/designs', doc, { headers: browserOwner() });
  remember(OWNERS_KEY, body?.id, body?.owner);
  return body;
}

const owned = (id) => ({ headers: designOwner(id) ? { 'X-Layerlab-Owner': designOwner(id) } : {} });

export const api = {
  layers: () => request('GET', '/api/layers'),
  datasets: () => request('GET', '/api/datasets'),
  training: () => request('GET', '/api/training'),
  environments: () => request('GET', '/api/environments'),
  examples: () => request('GET', '/api/examples'),
  validate: (doc) => request('POST', '/api/validate', doc),
  preview: (url, spec) => {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(spec)) if (k !== 'name' && v != null) query.set(k, v);
    const q = query.toString();
    return request('GET', `${url}${q ? `?${q}` : ''}`);
  },
  createDesign,
  updateDesign: (id, doc) => request('PUT', `/api/designs/${encodeURIComponent(id)}`, doc, owned(id)),
  deleteDesign: async (id) => {
    await request('DELETE', `/api/designs/${encodeURIComponent(id)}`, undefined, { ...owned(id), raw: true });
    forget(OWNERS_KEY, id);
  },
  deleteRun: async (id) => {
    await request('DELETE', `/api/runs/${encodeURIComponent(id)}`, undefined,
      { headers: { 'X-Layerlab-Token': runToken(id) || '' }, raw: true });
    forget(TOKENS_KEY, id);
  },
  getDesign: (id) => request('GET', `/api/designs/${encodeURIComponent(id)}`),
  run: (id) => request('GET', `/api/runs/${encodeURIComponent(id)}`),
  runs: (designKey, limit = 20) => request('GET', `/api/runs?design_key=${encodeURIComponent(designKey)}&limit=${limit}`),
  /** A design's stored random-forest baselines (on one dataset when given), newest first. */
  baselines: (designKey, datasetKey = null) => request('GET', `/api/baseline?design_key=${encodeURIComponent(designKey)}${
    datasetKey ? `&dataset_key=${encodeURIComponent(datasetKey)}` : ''}`),
  upload: (file) => {
    const form = new FormData();
    form.append('file', file, file.name);
    return request('POST', '/api/uploads', form);
  },
  /** An .onnx model as a design: {ok, document, weights (upload id), warnings, max_abs_diff}. */
  importModel: (file) => {
    const form = new FormData();
    form.append('file', file, file.name);
    return request('POST', '/api/import', form);
  },
  /** The server's ONNX Runtime output of an ended run's model for a batch of inputs. */
  predict: (id, input) => request('POST', `/api/runs/${encodeURIComponent(id)}/predict`, { input }),
  runModel: (id) => request('GET', `/api/runs/${encodeURIComponent(id)}/model.onnx`, undefined,
    { raw: true, headers: { Accept: '*/*' } }),
  exportDoc: (doc, format) => request('POST', `/api/export?format=${format}`, doc,
    { raw: true, headers: { Accept: '*/*' } }),
};

/** The document inside a /api/designs/<id> answer, whichever way the server wraps it. */
export function designDocument(body) {
  if (body && body.format === 'layerlab.network') return body;
  return body?.document || body?.doc || null;
}

/** The design id in a POST /api/designs answer. */
export function designId(body) {
  return body?.id ?? body?.design_id ?? null;
}

/** "attachment; filename=model.onnx" -> "model.onnx" */
export function attachmentName(res, fallback) {
  const cd = res.headers.get('Content-Disposition') || '';
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
  return m ? decodeURIComponent(m[1]) : fallback;
}
