// The editor's state: the document, the selection and undo/redo as a list of documents.
// No DOM: listeners are told what changed and the views redraw themselves.

const COALESCE_MS = 800; // edits with the same key closer than this are one undo step

export class Store {
  /** clock is injectable so tests can drive the coalescing window. */
  constructor(doc, { limit = 200, clock = () => Date.now() } = {}) {
    this.doc = doc;
    this.selection = { nodes: [], edges: [] };
    this.past = [];
    this.future = [];
    this.limit = limit;
    this.clock = clock;
    this.lastKey = null;
    this.lastTime = 0;
    this.listeners = new Set();
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(change) {
    for (const fn of this.listeners) fn(change, this);
  }

  /**
   * Replace the document by next (an edit). key: edits with the same key in a row merge into
   * one undo step (typing into one field). Returns true when the document changed.
   */
  commit(next, { key = null, select = null } = {}) {
    if (next === this.doc) return false;
    const now = this.clock();
    const merge = key !== null && key === this.lastKey && now - this.lastTime < COALESCE_MS;
    if (!merge) {
      this.past.push(this.doc);
      if (this.past.length > this.limit) this.past.shift();
    }
    this.future = [];
    this.lastKey = key;
    this.lastTime = now;
    this.doc = next;
    if (select) this.selection = { nodes: [...select], edges: [] };
    this.pruneSelection();
    this.emit({ doc: true, selection: Boolean(select) });
    return true;
  }

  /** Load a document as a fresh start (still undoable back to the previous design). */
  load(doc) {
    this.commit(doc, { select: [] });
    this.lastKey = null;
  }

  /** Forget history (used on first load). */
  reset(doc) {
    this.doc = doc;
    this.past = [];
    this.future = [];
    this.lastKey = null;
    this.selection = { nodes: [], edges: [] };
    this.emit({ doc: true, selection: true, reset: true });
  }

  get canUndo() { return this.past.length > 0; }

  get canRedo() { return this.future.length > 0; }

  undo() {
    if (!this.past.length) return false;
    this.future.push(this.doc);
    this.doc = this.past.pop();
    this.lastKey = null;
    this.pruneSelection();
    this.emit({ doc: true, selection: true, history: 'undo' });
    return true;
  }

  redo() {
    if (!this.future.length) return false;
    this.past.push(this.doc);
    this.doc = this.future.pop();
    this.lastKey = null;
    this.pruneSelection();
    this.emit({ doc: true, selection: true, history: 'redo' });
    return true;
  }

  /** Select nodes and/or edges; additive toggles membership (shift-click). */
  select({ nodes = [], edges = [] } = {}, { additive = false } = {}) {
    if (additive) {
      const toggle = (list, items) => {
        const set = new Set(list);
        for (const item of items) (set.has(item) ? set.delete(item) : set.add(item));
        return [...set];
      };
      this.selection = { nodes: toggle(this.selection.nodes, nodes),
        edges: toggle(this.selection.edges, edges) };
    } else {
      this.selection = { nodes: [...nodes], edges: [...edges] };
    }
    this.emit({ selection: true });
  }

  clearSelection() {
    if (!this.selection.nodes.length && !this.selection.edges.length) return;
    this.select({});
  }

  /** The one selected node id, or null when none or several are selected. */
  get selectedNode() {
    return this.selection.nodes.length === 1 && !this.selection.edges.length
      ? this.selection.nodes[0] : null;
  }

  pruneSelection() {
    const ids = new Set(this.doc.nodes.map((n) => n.id));
    const keys = new Set(this.doc.edges.map((e) => `${e.source}->${e.target}`));
    this.selection = {
      nodes: this.selection.nodes.filter((id) => ids.has(id)),
      edges: this.selection.edges.filter((k) => keys.has(k)),
    };
  }
}
