// How numbers, durations, times and outcomes read on the page.

/** A duration in seconds as "0.4 ms", "123 ms" or "1.23 s". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  if (seconds === 0) return '0';
  const ms = seconds * 1000;
  if (ms < 1) return `${ms.toFixed(ms < 0.1 ? 2 : 1)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  return `${Math.floor(seconds / 60)} m ${Math.round(seconds % 60)} s`;
}

/** A count as "7", "1,234" or "12.3k". */
export function count(n) {
  if (!Number.isFinite(n)) return '–';
  if (n >= 100000) return `${(n / 1000).toFixed(0)}k`;
  if (n >= 10000) return `${(n / 1000).toFixed(1)}k`;
  return Math.round(n).toLocaleString('en-US');
}

/** A rate per minute with two significant digits: "0.2/min", "12/min", "1.2k/min". */
export function perMinute(n, minutes) {
  if (!(minutes > 0)) return '';
  const rate = n / minutes;
  if (rate === 0) return '0/min';
  if (rate < 0.1) return '<0.1/min';
  if (rate < 10) return `${rate.toFixed(1).replace(/\.0$/, '')}/min`;
  if (rate < 1000) return `${Math.round(rate)}/min`;
  return `${(rate / 1000).toFixed(1)}k/min`;
}

/** A share as "12%", "0.4%". */
export function percent(part, total) {
  if (!total) return '0%';
  const p = (100 * part) / total;
  return p > 0 && p < 1 ? `${p.toFixed(1)}%` : `${Math.round(p)}%`;
}

const two = (n) => String(n).padStart(2, '0');

/** Epoch seconds as local "HH:MM:SS". */
export function clock(epochSeconds) {
  const d = new Date(epochSeconds * 1000);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** Epoch milliseconds as local "HH:MM:SS.mmm". */
export function clockMs(epochMs) {
  const d = new Date(epochMs);
  return `${clock(epochMs / 1000)}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** Epoch seconds as local "YYYY-MM-DD HH:MM:SS". */
export function dateTime(epochSeconds) {
  const d = new Date(epochSeconds * 1000);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${clock(epochSeconds)}`;
}

/** Epoch seconds as the value of an <input type="datetime-local" step="1">. */
export function localInput(epochSeconds) {
  return dateTime(epochSeconds).replace(' ', 'T');
}

/**
 * The outcomes of a SummaryStatistics object: {ok, error, fault, throttle, total, avg}, where
 * error excludes throttles (as the X-Ray console colours them apart).
 */
export function outcomes(stats) {
  if (!stats) return null;
  const total = stats.TotalCount ?? 0;
  const throttle = stats.ErrorStatistics?.ThrottleCount ?? 0;
  const errorAll = stats.ErrorStatistics?.TotalCount ?? 0;
  const fault = stats.FaultStatistics?.TotalCount ?? 0;
  return {
    total,
    ok: stats.OkCount ?? Math.max(0, total - errorAll - fault),
    error: Math.max(0, errorAll - throttle),
    throttle,
    fault,
    avg: total > 0 ? (stats.TotalResponseTime ?? 0) / total : null,
  };
}

/** A trace summary's outcome: 'fault', 'throttle', 'error' or 'ok'. */
export function traceOutcome(summary) {
  if (summary.HasFault) return 'fault';
  if (summary.HasThrottle) return 'throttle';
  if (summary.HasError) return 'error';
  return 'ok';
}

/** A segment document's outcome, from its flags and HTTP status. */
export function segmentOutcome(doc) {
  const status = Number(doc?.http?.response?.status) || 0;
  if (doc?.fault === true || (status >= 500 && status < 600)) return 'fault';
  if (doc?.throttle === true || status === 429) return 'throttle';
  if (doc?.error === true || (status >= 400 && status < 500)) return 'error';
  return 'ok';
}

/** Annotations of a trace summary as [key, "value" or "value1 | value2"] pairs. */
export function annotationPairs(annotations) {
  const out = [];
  for (const [key, values] of Object.entries(annotations ?? {})) {
    const texts = [];
    for (const entry of Array.isArray(values) ? values : []) {
      const v = entry?.AnnotationValue ?? {};
      const value = v.StringValue ?? v.NumberValue ?? v.BooleanValue;
      if (value !== undefined) texts.push(String(value));
    }
    if (texts.length) out.push([key, texts.join(' | ')]);
  }
  return out;
}

/** `text` cut to `max` characters with an ellipsis. */
export function truncate(text, max) {
  const str = String(text ?? '');
  return str.length > max ? `${str.slice(0, max - 1)}…` : str;
}

/** "Round" tick step for a span, aiming at about `target` ticks. */
export function niceStep(span, target) {
  if (!(span > 0)) return 1;
  const raw = span / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (raw <= m * magnitude) return m * magnitude;
  }
  return 10 * magnitude;
}
