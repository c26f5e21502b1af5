// Small text formatters shared by the views. Pure.

/** [16, 8, 8] -> "[16, 8, 8]"; a missing shape -> "?" */
export function shapeText(shape) {
  if (!Array.isArray(shape)) return '?';
  return `[${shape.join(', ')}]`;
}

/** 354 -> "354", 12345 -> "12.3k", 2500000 -> "2.5M" */
export function compact(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const abs = Math.abs(n);
  if (abs < 1000) return String(Math.round(n));
  const units = [[1e9, 'B'], [1e6, 'M'], [1e3, 'k']];
  for (const [size, suffix] of units) {
    if (abs >= size) {
      const v = n / size;
      return `${v >= 100 ? Math.round(v) : Number(v.toFixed(1))}${suffix}`;
    }
  }
  return String(n);
}

/** "1 param" / "48 params" / "12.3k params" */
export function paramsText(n) {
  if (n === null || n === undefined) return '';
  return `${compact(n)} ${n === 1 ? 'param' : 'params'}`;
}

/** Multiply-accumulates: 354 -> "354 MACs", 1234567 -> "1.2 M MACs" */
export function macsText(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '';
  const spaced = compact(n).replace(/([kMB])$/, ' $1').replace(/ B$/, ' G');
  return `${spaced} ${n === 1 ? 'MAC' : 'MACs'}`;
}

/** Bytes as people read them (1024 a step): 900 -> "900 B", 3174 -> "3.1 KB", 2.5e6 -> "2.4 MB" */
export function bytesText(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = Math.abs(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  const text = i === 0 ? String(Math.round(v)) : v >= 100 ? String(Math.round(v)) : v.toFixed(1);
  return `${n < 0 ? '-' : ''}${text} ${units[i]}`;
}

/** Seconds -> "0:42", "12:05", "1h 03m" */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return '–';
  }
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** A metric value with sensible precision: 0.69315 -> "0.6931", 1.2e-5 -> "1.20e-5" */
export function metric(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toPrecision(4).replace(/\.?0+$/, '') || '0';
}

/** 0.9731 -> "97.3%" */
export function percent(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return `${(v * 100).toFixed(1)}%`;
}

/** 1st, 2nd, 3rd, 4th ... */
export function ordinal(n) {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return `${n}${s[(v - 20) % 10] || s[v] || s[0]}`;
}
