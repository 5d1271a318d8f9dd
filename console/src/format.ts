import { h } from './dom.js';

/**
 * Times as an administrator reads them: in the browser's own time zone, with the zone named
 * ("Dec 6, 2026, 3:58 AM GMT+1"), the same instant in UTC on hover, and how far away it is
 * ("in 2 days").
 */
const absolute = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

const units: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

export function localTime(iso: string): string {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? iso : absolute.format(time);
}

/** "2026-12-06 02:58:13 UTC". */
export function utcTime(iso: string): string {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? iso : `${new Date(time).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A <time> element: local time with its zone, UTC on hover (title) and for machines (datetime). */
export function timeElement(iso: string, options: { relative?: boolean } = {}): HTMLElement {
  const element = h('time', { datetime: iso, title: utcTime(iso) }, localTime(iso));
  if (!options.relative) return element;
  return h('span', { class: 'when' }, element, h('span', { class: 'secondary' }, relativeTime(iso)));
}

export function relativeTime(iso: string, now = Date.now()): string {
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return '';
  const seconds = Math.round((time - now) / 1000);
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === 'second') return relative.format(Math.round(seconds / size), unit);
  }
  return '';
}

export function count(value: number): string {
  return new Intl.NumberFormat().format(value);
}

/** "1 device", "3 devices". */
export function plural(value: number, one: string, many = `${one}s`): string {
  return `${count(value)} ${value === 1 ? one : many}`;
}

/** A long identifier shortened for a table cell; the full value stays in the title and for screen readers. */
export function shortId(value: string, keep = 8): string {
  return value.length <= keep + 1 ? value : `${value.slice(0, keep)}…`;
}
