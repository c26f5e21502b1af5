// The Socket.IO connection (CONTRACTS.md §4) behind a small promise-based wrapper.
// The io factory is injected (the vendored socket.io.min.js sets window.io).

const MAX_ATTACHMENTS = 1024; // binary frames in one packet: one per layer of a big design

export class Connection {
  constructor(ioFactory) {
    this.ioFactory = ioFactory;
    this.socket = null;
    this.drops = 0;
    this.stateListeners = new Set();
  }

  connect() {
    if (!this.ioFactory) return this;
    // WebSocket first (lowest latency); long-polling when a proxy refuses WebSockets.
    this.socket = this.ioFactory({ transports: ['websocket', 'polling'], tryAllTransports: true,
      reconnectionDelayMax: 4000 });
    // run_activations carries one binary frame per layer; the parser's default cap of 10
    // attachments would drop the connection ("parse error") for any design over 10 layers.
    const decoder = this.socket.io?.decoder;
    if (decoder?.opts) decoder.opts.maxAttachments = MAX_ATTACHMENTS;
    this.socket.on('connect', () => this.emitState(true));
    this.socket.on('disconnect', (reason) => {
      if (reason !== 'io client disconnect') this.drops += 1; // counted for tests and diagnosis
      this.emitState(false);
    });
    this.socket.on('connect_error', () => this.emitState(false));
    return this;
  }

  get connected() {
    return Boolean(this.socket && this.socket.connected);
  }

  emitState(up) {
    for (const fn of this.stateListeners) fn(up);
  }

  /** fn(connected) on every connect and disconnect. */
  onState(fn) {
    this.stateListeners.add(fn);
  }

  on(event, fn) {
    if (this.socket) this.socket.on(event, fn);
  }

  /** Emit with an acknowledgement; resolves to the ack payload, rejects on timeout. */
  request(event, payload, timeoutMs = 15000) {
    return new Promise((resolve, reject) => {
      if (!this.connected) {
        reject(new Error('not connected to the server'));
        return;
      }
      this.socket.timeout(timeoutMs).emit(event, payload, (err, answer) => {
        if (err) reject(new Error(`the server did not answer "${event}" in time`));
        else resolve(answer);
      });
    });
  }
}
