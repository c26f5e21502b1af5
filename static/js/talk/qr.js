// QR codes drawn by the page (no network, no image service): qrcode-generator makes the
// matrix, we paint it on a canvas with crisp whole-pixel modules and the standard quiet zone.

import qrcode from '../../vendor/qrcode/qrcode.esm.js';

const QUIET = 4; // modules of light margin the standard asks for

/** The QR matrix of a text: {size, dark: (row, col) => bool}. Level M survives a smudged screen. */
export function qrMatrix(text, level = 'M') {
  const qr = qrcode(0, level); // 0: the smallest version that holds the text
  qr.addData(String(text), 'Byte');
  qr.make();
  const size = qr.getModuleCount();
  return { size, dark: (r, c) => qr.isDark(r, c) };
}

/**
 * Paint text's QR code on a canvas `cssSize` pixels wide (rounded down to whole modules), in
 * the page's pixel density. Dark on light whatever the theme: phone cameras expect that.
 */
export function drawQr(canvas, text, cssSize) {
  const m = qrMatrix(text);
  const cells = m.size + 2 * QUIET;
  const dpr = Math.max(1, Math.round(window.devicePixelRatio || 1));
  const unit = Math.max(2, Math.floor(cssSize / cells)); // css pixels per module
  const side = unit * cells;
  canvas.width = side * dpr;
  canvas.height = side * dpr;
  canvas.style.width = `${side}px`;
  canvas.style.height = `${side}px`;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#000000';
  const u = unit * dpr;
  for (let r = 0; r < m.size; r += 1) {
    for (let c = 0; c < m.size; c += 1) {
      if (m.dark(r, c)) ctx.fillRect((c + QUIET) * u, (r + QUIET) * u, u, u);
    }
  }
  canvas.dataset.qr = text; // what it encodes, for people reading the page and for tests
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `QR code of ${text}`);
  return side;
}
