import { signal } from './state';

/** The History API is the whole router: the server answers index.html for every console path, so links survive a reload. */
export const path = signal(location.pathname + location.search);

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  path.set(location.pathname + location.search);
  window.scrollTo(0, 0);
}

window.addEventListener('popstate', () => path.set(location.pathname + location.search));

/** Same-origin <a> clicks become pushState navigations (modifier clicks open new tabs as usual). */
document.addEventListener('click', (e) => {
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const href = a.getAttribute('href');
  if (!href || !href.startsWith('/') || a.target || a.hasAttribute('download') || a.dataset.external !== undefined) return;
  e.preventDefault();
  navigate(href);
});

/** Matches "/users/:id" against a pathname; returns the params or null. */
export function match(pattern: string, pathname: string): Record<string, string> | null {
  const p = pattern.split('/');
  const s = pathname.split('?')[0]!.split('/');
  if (p.length !== s.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i]!.startsWith(':')) out[p[i]!.slice(1)] = decodeURIComponent(s[i]!);
    else if (p[i] !== s[i]) return null;
  }
  return out;
}
