// The page: a header (time range, live refresh), the service map or an open trace on the left,
// and the selection's panel on the right (its numbers, response-time histogram and traces).
// This module holds the page's state and wires the views together; each view is its own module:
// map.js, histogram.js, charts.js, traces.js, timeline.js, logs.js. The state is mirrored in the
// URL's fragment (#range=15m&node=…&trace=…) so a view can be linked to and survives a reload.

import {h, fill, show} from './dom.js';
import {ApiError, Unavailable, nodeSeries, serviceGraph, trace as fetchTrace} from './api.js';
import {clock, count, dateTime, duration, localInput, percent, perMinute} from './format.js';
import {ServiceMap, graphOf, nodeRef} from './map.js';
import {renderHistogram} from './histogram.js';
import {renderCharts} from './charts.js';
import {TraceList} from './traces.js';
import {Timeline} from './timeline.js';
import {TraceLogs} from './logs.js';

const RANGES = {'5m': 300, '15m': 900, '1h': 3600};
const LIVE_INTERVAL_MS = 5000;

const $ = (id) => document.getElementById(id);

const state = {
  range: '15m',
  custom: null, // {start, end} when range is 'custom'
  live: true,
  selection: null, // {kind: 'node' | 'edge', id}
  latency: null, // {min, max} seconds, from the histogram
  trace: null, // the open trace's id
  graph: {nodes: new Map(), edges: new Map()},
  window: null, // {start, end} of the last refresh
};

const map = new ServiceMap($('map'), {onSelect: (selection) => select(selection)});
const traces = new TraceList({onOpen: (id) => openTrace(id)});
const timeline = new Timeline();
const traceLogs = new TraceLogs();

// ----- the URL fragment ------------------------------------------------------------------------

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const range = params.get('range');
  if (range !== null && Object.hasOwn(RANGES, range)) state.range = range;
  const from = Number(params.get('from'));
  const to = Number(params.get('to'));
  if (range === 'custom' && from > 0 && to > from) {
    state.range = 'custom';
    state.custom = {start: from, end: to};
  }
  if (params.get('node')) state.selection = {kind: 'node', id: params.get('node')};
  else if (params.get('edge')) state.selection = {kind: 'edge', id: params.get('edge')};
  if (params.get('filter')) {
    $('filter').value = params.get('filter');
    traces.filter = params.get('filter');
  }
  if (params.get('live') === '0') state.live = false;
  return params.get('trace');
}

function writeHash() {
  const params = new URLSearchParams();
  params.set('range', state.range);
  if (state.custom) {
    params.set('from', String(state.custom.start));
    params.set('to', String(state.custom.end));
  }
  if (state.selection) params.set(state.selection.kind, state.selection.id);
  if (traces.expression) params.set('filter', traces.expression);
  if (state.trace) params.set('trace', state.trace);
  if (!state.live) params.set('live', '0');
  history.replaceState(null, '', `#${params}`);
}

// ----- refreshing ------------------------------------------------------------------------------

function currentWindow() {
  if (state.range === 'custom' && state.custom) return {...state.custom};
  const end = Date.now() / 1000;
  return {start: end - RANGES[state.range], end};
}

let refreshing = null;
let again = false;

/** Reloads the map and the panel; at most one at a time (a request meanwhile runs after it). */
function refresh() {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    try {
      await load();
    } finally {
      refreshing = null;
      if (again) {
        again = false;
        refresh();
      }
    }
  })();
  return refreshing;
}

async function load() {
  const period = currentWindow();
  state.window = period;
  let answer;
  try {
    answer = await serviceGraph(period.start, period.end);
  } catch (error) {
    problem(error instanceof Unavailable
      ? 'This collector serves no service graph.'
      : `Could not load the service map: ${error.message}`);
    return;
  }
  problem(null);
  state.graph = graphOf(answer);
  const minutes = (period.end - period.start) / 60;
  const empty = state.graph.nodes.size === 0;
  $('map-empty').textContent = empty
    ? `No traces between ${when(period.start)} and ${when(period.end)}. Point an X-Ray SDK at the collector's UDP port, or OpenTelemetry at /v1/traces.`
    : '';
  show($('map-empty'), empty);
  map.render(state.graph, minutes);
  map.select(state.selection);
  $('updated').textContent = `updated ${clock(Date.now() / 1000)}`;
  await renderPanel();
}

/** A time as "HH:MM:SS" today, with the date on other days. */
function when(epochSeconds) {
  const today = new Date().toDateString() === new Date(epochSeconds * 1000).toDateString();
  return today ? clock(epochSeconds) : dateTime(epochSeconds);
}

function problem(text) {
  $('problem').textContent = text ?? '';
  show($('problem'), Boolean(text));
}

// ----- the side panel --------------------------------------------------------------------------

function selected() {
  const sel = state.selection;
  if (!sel) return null;
  return sel.kind === 'node' ? state.graph.nodes.get(sel.id) : state.graph.edges.get(sel.id);
}

function displayName(id) {
  const {Name, Type} = nodeRef(id);
  return Type === 'client' ? `client (${Name})` : Name;
}

function statsLine(stats, minutes) {
  if (!stats || !stats.total) return h('p', {class: 'muted', text: 'No completed requests in this range.'});
  const shares = h('div', {class: 'share-bar', role: 'img', 'aria-label': 'outcomes'});
  for (const outcome of ['ok', 'error', 'throttle', 'fault']) {
    if (!stats[outcome]) continue;
    const part = h('span', {class: outcome});
    part.style.flexGrow = String(stats[outcome]);
    shares.append(part);
  }
  return h('div', {class: 'stats'},
    h('div', {class: 'stats-line'},
      h('span', null, h('b', {text: count(stats.total)}), ' requests'),
      h('span', null, h('b', {text: perMinute(stats.total, minutes)})),
      h('span', null, 'avg ', h('b', {text: duration(stats.avg)}))),
    shares,
    h('div', {class: 'stats-line'},
      h('span', {class: 'ok', text: `ok ${percent(stats.ok, stats.total)}`}),
      h('span', {class: 'error', text: `4xx ${percent(stats.error, stats.total)}`}),
      h('span', {class: 'fault', text: `5xx ${percent(stats.fault, stats.total)}`}),
      h('span', {class: 'throttle', text: `429 ${percent(stats.throttle, stats.total)}`})));
}

function renderHeader() {
  const sel = state.selection;
  const item = selected();
  const minutes = (state.window.end - state.window.start) / 60;
  const close = h('button', {type: 'button', class: 'close', title: 'Clear the selection', 'aria-label': 'Clear the selection', text: '×', onclick: () => select(null)});
  if (!sel) {
    const nodes = [...state.graph.nodes.values()].filter((n) => !n.client);
    fill($('selection'),
      h('h2', {text: 'All traces'}),
      h('p', {class: 'muted', text: nodes.length
        ? `${nodes.length} nodes on the map. Click a node or an edge for its response times, numbers and traces.`
        : 'Nothing on the map in this range.'}));
    return;
  }
  if (sel.kind === 'node') {
    const {Name, Type} = nodeRef(sel.id);
    fill($('selection'),
      h('div', {class: 'selection-head'}, h('h2', {text: Type === 'client' ? 'client' : Name, title: Name}), close),
      h('p', {class: 'muted', text: Type === 'client' ? `in front of ${Name}` : Type || 'service'}),
      item ? statsLine(item.stats, minutes) : h('p', {class: 'note', text: 'Not on the map in this range.'}));
  } else {
    const [from, to] = edgeEnds(sel.id);
    fill($('selection'),
      h('div', {class: 'selection-head'}, h('h2', {class: 'edge-title'}, h('span', {text: displayName(from)}), h('span', {class: 'arrow', text: ' → '}), h('span', {text: displayName(to)})), close),
      item ? statsLine(item.stats, minutes) : h('p', {class: 'note', text: 'Not on the map in this range.'}));
  }
}

/** An edge's two node ids: from the map (names may hold "->"), else read off its id. */
function edgeEnds(id) {
  const edge = state.graph?.edges.get(id);
  if (edge) return [edge.from, edge.to];
  const at = id.indexOf('->');
  return [id.slice(0, at), id.slice(at + 2)];
}

function traceQuery() {
  const query = {...state.window};
  const sel = state.selection;
  if (sel?.kind === 'node') query.node = nodeRef(sel.id);
  if (sel?.kind === 'edge') {
    const [from, to] = edgeEnds(sel.id);
    query.edge = {From: nodeRef(from), To: nodeRef(to)};
  }
  if (state.latency) {
    query.minSeconds = state.latency.min;
    query.maxSeconds = state.latency.max;
  }
  return query;
}

function renderHistogramSection() {
  const item = selected();
  show($('histogram-section'), Boolean(state.selection));
  if (!state.selection) return;
  renderHistogram($('histogram'), item?.histogram ?? [], state.latency, (range) => {
    state.latency = range;
    renderHistogramSection();
    traces.load(traceQuery());
  });
}

/** Counts chart requests, so that only the latest one's answer is drawn. */
let chartsAsked = 0;

async function loadCharts() {
  const sel = state.selection;
  show($('charts-section'), sel?.kind === 'node');
  if (sel?.kind !== 'node') return;
  const period = state.window;
  const asked = ++chartsAsked;
  try {
    const answer = await nodeSeries(period.start, period.end, nodeRef(sel.id));
    if (asked !== chartsAsked) return;
    renderCharts($('charts'), answer.Minutes ?? [], period.start, period.end);
  } catch (error) {
    if (asked !== chartsAsked) return;
    fill($('charts'), h('p', {class: 'note', text: error instanceof Unavailable
      ? 'This collector does not serve per-minute numbers.'
      : `Could not load the numbers: ${error instanceof ApiError ? error.message : String(error)}`}));
  }
}

async function renderPanel() {
  renderHeader();
  renderHistogramSection();
  await Promise.all([loadCharts(), traces.load(traceQuery())]);
}

function select(selection) {
  const same = selection?.kind === state.selection?.kind && selection?.id === state.selection?.id;
  if (same) return;
  state.selection = selection;
  state.latency = null;
  map.select(selection);
  fill($('charts'), h('p', {class: 'note', text: 'Loading…'}));
  writeHash();
  if (state.window) renderPanel();
}

// ----- an open trace ---------------------------------------------------------------------------

async function openTrace(id) {
  state.trace = id;
  writeHash();
  traces.markOpen(id);
  show($('view-map'), false);
  show($('view-trace'), true);
  timeline.message('Loading the trace…');
  traceLogs.load(id);
  try {
    const found = await fetchTrace(id);
    if (state.trace !== id) return;
    if (found) timeline.show(found);
    else timeline.message(`Trace ${id} is not in the store (it may have aged out).`);
  } catch (error) {
    if (state.trace === id) timeline.message(`Could not load the trace: ${error.message}`);
  }
}

function closeTrace() {
  state.trace = null;
  traces.markOpen(null);
  show($('view-trace'), false);
  show($('view-map'), true);
  writeHash();
  if (!map.userMoved) map.fit();
}

// ----- the header ------------------------------------------------------------------------------

function renderRangeButtons() {
  for (const button of $('range').querySelectorAll('button')) {
    const active = button.getAttribute('data-range') === state.range;
    button.classList.toggle('active', active);
    button.setAttribute('aria-pressed', String(active));
  }
  show($('custom-range'), state.range === 'custom');
  if (state.custom) {
    $('range-from').value = localInput(state.custom.start);
    $('range-to').value = localInput(state.custom.end);
  }
  $('live').checked = state.live;
  $('live').disabled = state.range === 'custom';
}

function bindHeader() {
  $('range').addEventListener('click', (event) => {
    const button = event.target.closest('[data-range]');
    if (!button) return;
    const range = button.getAttribute('data-range');
    if (range === 'custom') {
      const period = state.window ?? currentWindow();
      $('range-from').value = localInput(period.start);
      $('range-to').value = localInput(period.end);
      state.range = 'custom';
      state.custom = {start: Math.floor(period.start), end: Math.ceil(period.end)};
    } else {
      state.range = range;
      state.custom = null;
    }
    renderRangeButtons();
    writeHash();
    refresh();
  });
  $('range-apply').addEventListener('click', () => {
    const start = new Date($('range-from').value).getTime() / 1000;
    const end = new Date($('range-to').value).getTime() / 1000;
    if (!(start < end)) {
      problem('The custom range needs a "from" before its "to".');
      return;
    }
    state.custom = {start, end};
    writeHash();
    refresh();
  });
  $('live').addEventListener('change', () => {
    state.live = $('live').checked;
    writeHash();
    if (state.live) refresh();
  });
  traces.onFilter = () => {
    writeHash();
    if (state.window) traces.load(traceQuery());
  };
  $('zoom-in').addEventListener('click', () => map.zoom(1.25));
  $('zoom-out').addEventListener('click', () => map.zoom(0.8));
  $('zoom-fit').addEventListener('click', () => map.fit());
  $('relayout').addEventListener('click', () => map.relayout());
  $('back-to-map').addEventListener('click', closeTrace);
  document.addEventListener('keydown', (event) => {
    const typing = event.target instanceof Element && event.target.closest('input');
    if (event.key === 'Escape' && state.trace && !typing) closeTrace();
  });
}

// ----- start -----------------------------------------------------------------------------------

const openOnLoad = readHash();
bindHeader();
renderRangeButtons();
refresh();
if (openOnLoad) openTrace(openOnLoad);
setInterval(() => {
  if (state.live && state.range !== 'custom' && !document.hidden) refresh();
}, LIVE_INTERVAL_MS);
