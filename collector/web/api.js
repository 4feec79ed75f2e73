// The collector's JSON endpoints, all POST with a JSON body; times are epoch seconds.
// The X-Ray API operations (/ServiceGraph, /Traces, /TraceSummaries) are always there; the
// page's own endpoints (/ui/api/*) may be missing on an older collector, which answers 404:
// callers get an Unavailable error and show what they can without them.

/** An API answer with an error: HTTP status, the `__type` and the `message`. */
export class ApiError extends Error {
  constructor(status, type, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.type = type || '';
  }
}

/** The endpoint does not exist on this collector (404). */
export class Unavailable extends Error {
  constructor(path) {
    super(`${path} is not served by this collector`);
    this.path = path;
  }
}

async function post(path, body, signal) {
  const response = await fetch(path, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify(body),
    signal,
  });
  if (response.status === 404) throw new Unavailable(path);
  const text = await response.text();
  let data = null;
  try {
    data = JSON.parse(text);
  } catch {
    // Not JSON: a plain-text refusal from the router (413, 405, …).
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.__type, data?.message ?? data?.Message ?? text.trim());
  }
  if (data === null) throw new ApiError(response.status, '', `${path} answered with something that is not JSON`);
  return data;
}

/** GetServiceGraph: {Services: [...]}. */
export function serviceGraph(start, end, signal) {
  return post('/ServiceGraph', {StartTime: start, EndTime: end}, signal);
}

/** BatchGetTraces for one trace: the trace, or null when it is not stored. */
export async function trace(id, signal) {
  const answer = await post('/Traces', {TraceIds: [id]}, signal);
  return answer.Traces?.[0] ?? null;
}

/** A string literal of the filter language (only \" and \\ are escapes). */
function quoted(text) {
  return `"${String(text).replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * Trace summaries in a window, newest first (at most 200), through `query.node` {Name, Type} or
 * `query.edge` {From, To} when given, within [minSeconds, maxSeconds] and matching `filter`.
 * Resolves to {summaries, approximate}: `approximate` when the collector has no /ui/api/traces
 * and the node, edge or range could only be approximated with a filter expression.
 */
export async function traceSummaries(query, signal) {
  const body = {StartTime: query.start, EndTime: query.end};
  if (query.node) body.Node = query.node;
  if (query.edge) body.Edge = query.edge;
  if (query.minSeconds !== undefined) body.MinSeconds = query.minSeconds;
  if (query.maxSeconds !== undefined) body.MaxSeconds = query.maxSeconds;
  if (query.filter) body.FilterExpression = query.filter;
  try {
    const answer = await post('/ui/api/traces', body, signal);
    return {summaries: answer.TraceSummaries ?? [], approximate: false};
  } catch (error) {
    if (!(error instanceof Unavailable)) throw error;
  }
  // An older collector: the API's own search, with the node and range as filter terms.
  const terms = [];
  const service = query.node ?? query.edge?.To;
  if (service && service.Type !== 'client') {
    terms.push(service.Type
      ? `service(id(name: ${quoted(service.Name)}, type: ${quoted(service.Type)}))`
      : `service(${quoted(service.Name)})`);
  }
  if (query.minSeconds !== undefined) terms.push(`responsetime >= ${query.minSeconds}`);
  if (query.maxSeconds !== undefined) terms.push(`responsetime <= ${query.maxSeconds}`);
  if (query.filter) terms.push(`(${query.filter})`);
  const summaries = [];
  let token;
  do {
    const request = {StartTime: query.start, EndTime: query.end, FilterExpression: terms.join(' AND ')};
    if (token) request.NextToken = token;
    const page = await post('/TraceSummaries', request, signal);
    summaries.push(...(page.TraceSummaries ?? []));
    token = page.NextToken;
  } while (token && summaries.length < 200);
  summaries.sort((a, b) => (b.StartTime ?? 0) - (a.StartTime ?? 0));
  return {summaries: summaries.slice(0, 200), approximate: Boolean(query.node || query.edge)};
}

/** A node's numbers per minute: {Minutes: [{Time, Requests, Ok, Errors, Throttles, Faults, P50, P99}]}. */
export function nodeSeries(start, end, node, signal) {
  return post('/ui/api/node-series', {StartTime: start, EndTime: end, Name: node.Name, Type: node.Type}, signal);
}

/** A trace's log lines: {Events: [{LogGroup, LogStream, Timestamp, Message}], Logq, Truncated}. */
export function logs(traceId, signal) {
  return post('/ui/api/logs', {TraceId: traceId}, signal);
}
