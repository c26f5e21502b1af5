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

export const api = {
  layers: () => request('GET', '/api/layers'),
  datasets: () => request('GET', '/api/datasets'),
  examples: () => request('GET', '/api/examples'),
  validate: (doc) => request('POST', '/api/validate', doc),
  preview: (url, spec) => {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(spec)) if (k !== 'name' && v != null) query.set(k, v);
    const q = query.toString();
    return request('GET', `${url}${q ? `?${q}` : ''}`);
  },
  createDesign: (doc) => request('POST', '/api/designs', doc),
  updateDesign: (id, doc) => request('PUT', `/api/designs/${encodeURIComponent(id)}`, doc),
  getDesign: (id) => request('GET', `/api/designs/${encodeURIComponent(id)}`),
  run: (id) => request('GET', `/api/runs/${encodeURIComponent(id)}`),
  runs: (designKey, limit = 20) => request('GET', `/api/runs?design_key=${encodeURIComponent(designKey)}&limit=${limit}`),
  upload: (file) => {
    const form = new FormData();
    form.append('file', file, file.name);
    return request('POST', '/api/uploads', form);
  },
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
