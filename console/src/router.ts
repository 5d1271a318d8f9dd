/**
 * Where the administrator is, kept in the URL's fragment so reload, back and forward, and a
 * shared link land on the same view with the same filters:
 *   #tokens   #devices?status=pending&name=lab   #device/<id or thumbprint>   #audit?action=device.revoke&period=24h
 * The fragment never leaves the browser (it is not sent to the service, nor in a Referer).
 */
export type ViewName = 'tokens' | 'devices' | 'device' | 'audit';

export interface Route {
  view: ViewName;
  /** The device a `device` route shows. */
  id: string;
  params: URLSearchParams;
}

const views: readonly ViewName[] = ['tokens', 'devices', 'device', 'audit'];

export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#/, '');
  const question = text.indexOf('?');
  const path = question === -1 ? text : text.slice(0, question);
  const params = new URLSearchParams(question === -1 ? '' : text.slice(question + 1));
  const [head = '', ...rest] = path.split('/');
  const view = views.find((name) => name === head);
  if (view === 'device') {
    const id = safeDecode(rest.join('/'));
    return id === '' ? { view: 'devices', id: '', params } : { view, id, params };
  }
  return { view: view ?? 'tokens', id: '', params };
}

export function routeHash(view: ViewName, params: Record<string, string | undefined> = {}, id = ''): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== '') query.set(name, value);
  const text = query.toString();
  return `#${view}${view === 'device' ? `/${encodeURIComponent(id)}` : ''}${text === '' ? '' : `?${text}`}`;
}

/** Goes to a view: a new history entry (so Back returns), unless the URL already says so. */
export function navigate(hash: string): void {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
