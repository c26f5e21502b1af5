// Server refusals in words for a toast: the server's own message when it sent one, else what
// the status or error code means (a 413 from a proxy or a dropped answer has no JSON body).

const BY_CODE = {
  forbidden: 'the server refused this page (forbidden: another site, host or owner)',
  unsupported_media_type: 'the server accepts only JSON here (415)',
  busy: 'the server is busy: too many runs are queued; try again when one ends',
  quota_exceeded: 'you are over your quota on this server; delete old runs or designs',
  storage_full: 'the server\'s disk budget is full',
  unavailable: 'the server is unavailable right now',
  not_found: 'it is no longer on the server',
  internal: 'the server failed on this request (see its log)',
};

const BY_STATUS = { 403: 'forbidden', 404: 'not_found', 415: 'unsupported_media_type',
  429: 'busy', 500: 'internal', 503: 'unavailable', 507: 'storage_full' };

/** "Could not X: <why>" material: the message, with the code's meaning when it adds something. */
export function problemText(err) {
  const code = err?.code && err.code !== 'http_error' ? err.code : BY_STATUS[err?.status];
  const message = typeof err?.message === 'string' ? err.message.trim() : '';
  const generic = !message || /^request failed \(\d+\)$/.test(message);
  if (err?.status === 413) return 'the file or design is too large for the server (413)';
  if (generic) return BY_CODE[code] || (err?.status ? `the server answered ${err.status}` : 'no answer from the server');
  if (code === 'busy' || code === 'quota_exceeded') return `${message} (${code === 'busy' ? 'busy' : 'quota'})`;
  return message;
}

/** An Error from a Socket.IO ack that was not ok, keeping its code for problemText. */
export function ackError(ack, fallback) {
  const err = new Error(ack?.message || BY_CODE[ack?.error] || fallback);
  err.code = ack?.error || null;
  err.errors = ack?.errors || [];
  return err;
}
