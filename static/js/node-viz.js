// Pictures of what a layer computes, drawn inside its node while a run streams
// run_activations: TF Playground-style unit heatmaps over the input plane ("plane"), feature
// maps of one sample ("maps"), or one strip of unit values ("units", "sequence").

const NEG = [245, 130, 32]; // orange: negative (as TensorFlow Playground)
const POS = [37, 99, 235]; // blue: positive
let MID = [248, 250, 252]; // zero: the node's own background, so it reads in both themes

/** Take zero's colour from the theme (the CSS variable --node-bg, as #rrggbb). */
export function useThemeColours() {
  const css = getComputedStyle(document.documentElement).getPropertyValue('--node-bg').trim();
  if (/^#[0-9a-f]{6}$/i.test(css)) MID = [1, 3, 5].map((i) => Number.parseInt(css.slice(i, i + 2), 16));
}

/** Frame bytes (ArrayBuffer, typed array or list) as a Uint8Array. */
export function bytesOf(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return Uint8Array.from(data || []);
}

/** Dequantize one byte of a {min, max} frame. */
export function valueOf(frame, byte) {
  return frame.min + (byte / 255) * (frame.max - frame.min);
}

/** Diverging colour of v scaled by `scale` (|v| = scale is full colour). Pure. */
export function diverging(v, scale, mid = MID) {
  const t = Math.max(-1, Math.min(1, scale > 0 ? v / scale : 0));
  const end = t < 0 ? NEG : POS;
  const a = Math.abs(t);
  return [0, 1, 2].map((i) => Math.round(mid[i] + (end[i] - mid[i]) * a));
}

/** How a frame splits into tiles: {tiles, h, w} (a strip is one tile of 1 x n). Pure. */
export function tiling(frame) {
  const s = frame.shape || [];
  if ((frame.kind === 'plane' || frame.kind === 'maps') && s.length === 3) {
    return { tiles: s[0], h: s[1], w: s[2] };
  }
  if (frame.kind === 'maps' && s.length === 2) return { tiles: s[1], h: 1, w: s[0], transpose: true };
  const n = s.reduce((a, b) => a * b, 1);
  return { tiles: 1, h: 1, w: n };
}

/** Draw a frame into a canvas element sized by CSS (device-pixel aware). */
export function drawFrame(canvas, frame) {
  const dpr = window.devicePixelRatio || 1;
  const cw = canvas.clientWidth; const ch = canvas.clientHeight;
  if (!cw || !ch) return;
  if (canvas.width !== Math.round(cw * dpr)) { canvas.width = Math.round(cw * dpr); canvas.height = Math.round(ch * dpr); }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cw, ch);
  const bytes = bytesOf(frame.data);
  const { tiles, h, w, transpose } = tiling(frame);
  const scale = Math.max(Math.abs(frame.min), Math.abs(frame.max)) || 1;
  const gap = 2;
  const strip = h === 1; // one row of values: stretch it across the node
  const shown = Math.min(tiles, strip ? 1 : Math.max(1, Math.floor((cw + gap) / (ch + gap))));
  const tileW = strip ? cw : ch; // a picture stays square
  const img = new ImageData(w, h);
  const off = new OffscreenCanvas(w, h);
  const octx = off.getContext('2d');
  ctx.imageSmoothingEnabled = frame.kind === 'plane';
  for (let t = 0; t < shown; t += 1) {
    for (let i = 0; i < h * w; i += 1) {
      const idx = transpose ? (i % w) * tiles + t : t * h * w + i;
      const [r, g, b] = diverging(valueOf(frame, bytes[idx] ?? 0), scale);
      img.data[i * 4] = r; img.data[i * 4 + 1] = g; img.data[i * 4 + 2] = b; img.data[i * 4 + 3] = 255;
    }
    octx.putImageData(img, 0, 0);
    ctx.drawImage(off, t * (tileW + gap), 0, tileW, ch);
  }
}
