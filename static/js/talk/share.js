// Share a finished run with its design: "/#design=<id>&run=<run_id>" opens the design, watches
// the run's whole history (its charts) and makes Export ONNX download that run's trained model.

import { api } from '../api.js';
import { toast } from '../dom.js';
import { DONE } from '../progress.js';

/** What makes two documents the same design for a run: graph and training, not layout or name. */
export function designCore(doc) {
  return JSON.stringify({
    nodes: (doc?.nodes || []).map((n) => [n.id, n.type, n.params || {}]),
    edges: (doc?.edges || []).map((e) => [e.source, e.target, e.port ?? null]),
    training: doc?.training || {},
  });
}

export function sameDesign(a, b) {
  return Boolean(a && b) && designCore(a) === designCore(b);
}

/** The run a share link carries: this page's finished or stopped run of this very design. */
export function sharedRunId(run, doc) {
  const state = run?.status?.state;
  if (!run?.runId || !DONE.has(state) || state === 'failed') return null;
  return sameDesign(run.document, doc) ? run.runId : null;
}

/** "#design=abc&run=xyz" -> "xyz" (null without one). */
export function runInHash(hash) {
  return new URLSearchParams(String(hash || '').replace(/^#/, '')).get('run') || null;
}

/**
 * Watch the run a link names (no token: its history and pictures, not its controls). The design
 * comes from the link's own #design/#doc; a link with only #run opens the run's document.
 * Returns false when the link names no run.
 */
export async function openSharedRun(app, { openDocument }) {
  const hash = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  const runId = runInHash(window.location.hash);
  if (!runId) return false;
  let doc = null;
  try {
    const summary = await api.run(runId);
    doc = summary.document || summary.config?.document || null;
  } catch (err) {
    toast(`Run ${runId} could not be opened: ${err.message}`, { kind: 'error', timeout: 10000 });
    return false;
  }
  if (doc && !hash.get('design') && !hash.get('doc')) openDocument(app, doc, { tidy: true });
  const runClient = app.runClient;
  const watch = async () => {
    try {
      await runClient.watch(runId, { document: doc });
      const ended = DONE.has(runClient.status?.state);
      toast(ended ? `Run ${runId}: its charts and trained weights (Export ONNX downloads that model)`
        : `Watching run ${runId} as it trains`, { kind: 'ok', timeout: 6000 });
    } catch (err) {
      toast(`Run ${runId}: ${err.message}`, { kind: 'error', timeout: 10000 });
    }
  };
  if (app.conn.connected) await watch();
  else app.conn.onState((up) => { if (up && runClient.runId !== runId) watch(); });
  return true;
}
