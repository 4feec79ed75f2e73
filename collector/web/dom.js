// Building DOM and SVG elements. Trace and log data is attacker-controlled, so it only ever
// enters the page as a text node (textContent) or an attribute value (setAttribute); markup is
// never parsed from strings. Attribute names always come from this code, never from data.

const SVG_NS = 'http://www.w3.org/2000/svg';

// Attributes that could load or run something: refused here so no caller can set them.
const DANGEROUS = /^(href|src|srcdoc|style|action|formaction|xlink:href)$/i;

function apply(element, attrs) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'text') {
      element.textContent = String(value);
    } else if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      element.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value));
    } else {
      if (DANGEROUS.test(name) || name.startsWith('on')) throw new Error(`refusing attribute ${name}`);
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
}

function appendAll(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element: h('li', {class: 'row', 'data-trace': id}, 'text', child, …). */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  apply(element, attrs);
  return appendAll(element, children);
}

/** An SVG element, the same way. */
export function s(tag, attrs, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  apply(element, attrs);
  return appendAll(element, children);
}

/** Replaces the children of `element` with `children`. */
export function fill(element, ...children) {
  element.replaceChildren();
  return appendAll(element, children);
}

/** Shows or hides an element. */
export function show(element, visible) {
  element.hidden = !visible;
}

/** A definition list of [label, value] pairs, skipping empty values. */
export function pairs(rows) {
  const list = h('dl', {class: 'pairs'});
  for (const [label, value] of rows) {
    if (value === undefined || value === null || value === '') continue;
    list.append(h('dt', {text: label}), h('dd', null, value instanceof Node ? value : String(value)));
  }
  return list;
}
