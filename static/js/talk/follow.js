// The audience link follows the speaker. Each run the speaker's page starts is linked to the one
// before (run-client.js sends follow_on), so when the run an audience page (/run/<id>) shows links
// on to a newer one (run_next, or a watch ack with next_run_id), the page watches that run
// instead: fresh charts and pictures, the new design when it is another one, /run/<new> in the
// address bar, and a short note. Phones that opened the first link stay with the talk.

import { toast } from '../dom.js';
import { normalizeDocument } from '../graph.js';
import { sameDesign } from './share.js';

const MAX_HOPS = 20; // runs followed in one go at most (the server refuses loops; a guard)

export class Follower {
  /** app: the page (runClient, store, renderPage); openDocument: files.js's. */
  constructor(app, { openDocument }) {
    this.app = app;
    this.openDocument = openDocument;
    this.wanted = null; // the newest run asked for; a later ask while moving replaces it
    this.busy = false;
  }

  /** Watch runId instead of the current run (and whatever it links on to meanwhile). */
  async follow(runId) {
    this.wanted = runId;
    if (this.busy) return;
    this.busy = true;
    const rc = this.app.runClient;
    const from = rc.runId;
    try {
      // watch() reports a further link through onNext, which lands in this.wanted.
      for (let hops = 0; this.wanted && this.wanted !== rc.runId && hops < MAX_HOPS; hops += 1) {
        await rc.watch(this.wanted);
      }
    } catch (err) {
      toast(`Could not follow the speaker to their new run: ${err.message}`, { kind: 'error', timeout: 8000 });
    } finally {
      this.busy = false;
      this.wanted = null;
    }
    if (rc.runId && rc.runId !== from) this.moved(rc.runId);
  }

  /** The page now shows runId: its address, its design, its title, and a note saying so. */
  moved(runId) {
    const { app } = this;
    document.body.dataset.runId = runId;
    const url = `/run/${encodeURIComponent(runId)}${window.location.search}${window.location.hash}`;
    window.history.replaceState(window.history.state, '', url);
    const doc = app.runClient.document;
    if (doc && !sameDesign(normalizeDocument(doc), app.store.doc)) this.openDocument(app, doc, { tidy: true });
    else app.renderPage?.(); // the title names the run
    toast('The speaker started a new run', { kind: 'ok', timeout: 4000 });
  }
}
