// The trace list: the trace summaries of the selection (a node, an edge, or everything), newest
// first — time, duration, status, method and URL, annotations — with the API's filter-expression
// box. A filter the API refuses shows its message, caret line included, as preformatted text.

import {h, fill, show} from './dom.js';
import {ApiError, traceSummaries} from './api.js';
import {annotationPairs, clock, dateTime, duration, traceOutcome, truncate} from './format.js';

export class TraceList {
  /** `onOpen(traceId)` is called when a trace is clicked. */
  constructor({onOpen}) {
    this.list = document.getElementById('traces');
    this.input = document.getElementById('filter');
    this.error = document.getElementById('filter-error');
    this.note = document.getElementById('traces-note');
    this.countLabel = document.getElementById('traces-count');
    this.onOpen = onOpen;
    this.filter = '';
    this.openId = null;
    this.sequence = 0;
    const apply = () => {
      this.filter = this.input.value.trim();
      this.onFilter?.();
    };
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') apply();
    });
    document.getElementById('filter-apply').addEventListener('click', apply);
    this.list.addEventListener('click', (event) => {
      const row = event.target.closest('[data-trace]');
      if (row) this.onOpen(row.getAttribute('data-trace'));
    });
    this.list.addEventListener('keydown', (event) => {
      const row = event.target.closest('[data-trace]');
      if (row && event.key === 'Enter') this.onOpen(row.getAttribute('data-trace'));
    });
  }

  /** The filter expression as applied (not as being typed). */
  get expression() {
    return this.filter;
  }

  /** Marks the open trace's row. */
  markOpen(traceId) {
    this.openId = traceId;
    for (const row of this.list.children) {
      row.classList.toggle('open', row.getAttribute('data-trace') === traceId);
    }
  }

  /**
   * Loads and shows the summaries for `query` ({start, end, node?, edge?, minSeconds?,
   * maxSeconds?}) with the current filter. Answers that arrive after a newer load are dropped.
   */
  async load(query) {
    const sequence = ++this.sequence;
    // aria-busy at once (tests and screen readers wait on it), the dimming only when slow.
    this.list.setAttribute('aria-busy', 'true');
    const busy = setTimeout(() => this.list.classList.add('loading'), 300);
    try {
      const answer = await traceSummaries({...query, filter: this.filter});
      if (sequence !== this.sequence) return;
      show(this.error, false);
      this.render(answer.summaries);
      const notes = [];
      if (answer.approximate) notes.push('This collector cannot search by node or edge; showing traces that pass through the service.');
      if (answer.summaries.length >= 200) notes.push('Showing the newest 200.');
      this.note.textContent = notes.join(' ');
      show(this.note, notes.length > 0);
    } catch (error) {
      if (sequence !== this.sequence) return;
      if (error instanceof ApiError && error.status === 400) {
        this.error.textContent = error.message;
        show(this.error, true);
        fill(this.list);
        this.countLabel.textContent = '';
      } else {
        this.note.textContent = `Could not load traces: ${error.message}`;
        show(this.note, true);
      }
    } finally {
      clearTimeout(busy);
      if (sequence === this.sequence) {
        this.list.classList.remove('loading');
        this.list.removeAttribute('aria-busy');
      }
    }
  }

  render(summaries) {
    this.countLabel.textContent = summaries.length ? `${summaries.length}` : '';
    if (!summaries.length) {
      fill(this.list, h('li', {class: 'empty-row', text: this.filter ? 'No traces match this filter.' : 'No traces in this range.'}));
      return;
    }
    fill(this.list, summaries.map((summary) => this.row(summary)));
  }

  row(summary) {
    const outcome = traceOutcome(summary);
    const http = summary.Http ?? {};
    const code = Number(http.HttpStatus) || 0;
    // The badge tells the entry point's answer; a problem further down gets its own tag.
    const shown = code >= 500 ? 'fault' : code === 429 ? 'throttle' : code >= 400 ? 'error' : code ? 'ok' : outcome;
    const status = code || outcome;
    const url = http.HttpURL ?? summary.EntryPoint?.Name ?? '';
    const annotations = annotationPairs(summary.Annotations);
    const id = String(summary.Id ?? '');
    return h('li', {class: ['trace-row', id === this.openId && 'open'], 'data-trace': id, tabindex: 0, title: id},
      h('div', {class: 'trace-line'},
        h('span', {class: 'time', text: summary.StartTime ? clock(summary.StartTime) : '', title: summary.StartTime ? dateTime(summary.StartTime) : ''}),
        h('span', {class: ['status', shown], text: String(status)}),
        h('span', {class: 'method', text: http.HttpMethod ? String(http.HttpMethod) : ''}),
        h('span', {class: 'url', text: truncate(url, 300), title: String(url)}),
        outcome !== shown ? h('span', {class: ['status', 'flag', outcome], title: `the trace has a ${outcome}`, text: outcome}) : null,
        h('span', {class: 'duration', text: duration(summary.ResponseTime ?? summary.Duration)})),
      annotations.length
        ? h('div', {class: 'annotations', title: annotations.map(([k, v]) => `${k} = ${v}`).join('\n')},
          annotations.map(([k, v]) => h('span', {class: 'chip', text: `${truncate(k, 24)}=${truncate(v, 40)}`})))
        : null);
  }
}
