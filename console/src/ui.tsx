import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';
import { signal, useSignal } from './state';

interface Toast {
  id: number;
  kind: 'ok' | 'error' | 'info';
  text: string;
}
const toasts = signal<Toast[]>([]);
let toastSeq = 0;

export function toast(text: string, kind: Toast['kind'] = 'info'): void {
  const t = { id: ++toastSeq, kind, text };
  toasts.set([...toasts.get(), t]);
  setTimeout(() => toasts.set(toasts.get().filter((x) => x.id !== t.id)), kind === 'error' ? 8000 : 4000);
}

/** Shows any thrown error as a toast; API errors with their message. */
export function toastError(e: unknown): void {
  toast(e instanceof ApiError ? e.message : String((e as Error)?.message ?? e), 'error');
}

export function Toasts() {
  const list = useSignal(toasts);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={`toast ${t.kind}`} role={t.kind === 'error' ? 'alert' : undefined}>
          {t.text}
        </div>
      ))}
    </div>
  );
}

interface ConfirmOptions {
  /** A checkbox shown in the dialog (off by default); its state is returned with the answer. */
  checkbox?: string;
  /** The action stays disabled until exactly this text is typed (for what cannot be undone). */
  typeToConfirm?: string;
}
interface ConfirmRequest extends ConfirmOptions {
  title: string;
  body: string;
  action: string;
  resolve: (r: { ok: boolean; checked: boolean }) => void;
}
const confirmation = signal<ConfirmRequest | null>(null);

/** A modal confirmation (focus moves into it, Escape cancels, focus returns where it was). */
export function confirm(title: string, body: string, action = 'Confirm'): Promise<boolean> {
  return confirmWith(title, body, action).then((r) => r.ok);
}

/** confirm() with a checkbox and/or a text the user must type before the action is enabled. */
export function confirmWith(title: string, body: string, action: string, options: ConfirmOptions = {}): Promise<{ ok: boolean; checked: boolean }> {
  return new Promise((resolve) => confirmation.set({ title, body, action, ...options, resolve }));
}

export function ConfirmDialog() {
  const req = useSignal(confirmation);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const previous = useRef<Element | null>(null);
  const [checked, setChecked] = useState(false);
  const [typed, setTyped] = useState('');
  useEffect(() => {
    if (req) {
      previous.current = document.activeElement;
      setChecked(false);
      setTyped('');
      cancelRef.current?.focus();
    }
  }, [req]);
  if (!req) return null;
  const done = (v: boolean) => {
    confirmation.set(null);
    req.resolve({ ok: v, checked: v && checked });
    (previous.current as HTMLElement | null)?.focus?.();
  };
  const blocked = req.typeToConfirm !== undefined && typed !== req.typeToConfirm;
  return (
    <div class="dialog-backdrop" onKeyDown={(e) => e.key === 'Escape' && done(false)}>
      <div class="dialog" role="alertdialog" aria-modal="true" aria-labelledby="confirm-title" aria-describedby="confirm-body">
        <h2 id="confirm-title">{req.title}</h2>
        <p id="confirm-body">{req.body}</p>
        {req.checkbox && (
          <label class="check">
            <input type="checkbox" checked={checked} onChange={(e) => setChecked((e.target as HTMLInputElement).checked)} /> {req.checkbox}
          </label>
        )}
        {req.typeToConfirm !== undefined && (
          <label class="confirm-type">
            Type <strong>{req.typeToConfirm}</strong> to confirm
            <input type="text" autoComplete="off" value={typed} onInput={(e) => setTyped((e.target as HTMLInputElement).value)} />
          </label>
        )}
        <div class="row">
          <button type="button" ref={cancelRef} onClick={() => done(false)}>
            Cancel
          </button>
          <button type="button" class="danger" disabled={blocked} onClick={() => done(true)}>
            {req.action}
          </button>
        </div>
      </div>
    </div>
  );
}

let fieldSeq = 0;
export function useId(prefix: string): string {
  const ref = useRef<string>('');
  if (!ref.current) ref.current = `${prefix}-${++fieldSeq}`;
  return ref.current;
}

/** A labelled input with its rule's error right under it (aria-describedby ties them for screen readers). */
export function Field(props: {
  label: string;
  name: string;
  value: string | number | boolean | null | undefined;
  onInput: (v: string | boolean) => void;
  error?: string | undefined;
  type?: 'text' | 'number' | 'email' | 'password' | 'url' | 'checkbox' | 'date' | 'time' | 'datetime-local' | undefined;
  hint?: string;
  options?: Array<[string, string]>;
  readOnly?: boolean;
  required?: boolean;
  autoComplete?: string;
}) {
  const id = useId(`f-${props.name}`);
  const errId = `${id}-err`;
  const common = {
    id,
    name: props.name,
    'aria-invalid': props.error ? ('true' as const) : undefined,
    'aria-describedby': props.error ? errId : undefined,
    disabled: props.readOnly,
    required: props.required,
  };
  let input: JSX.Element;
  if (props.type === 'checkbox') {
    input = <input {...common} type="checkbox" checked={Boolean(props.value)} onChange={(e) => props.onInput((e.target as HTMLInputElement).checked)} />;
  } else if (props.options) {
    input = (
      <select {...common} value={props.value == null ? '' : String(props.value)} onChange={(e) => props.onInput((e.target as HTMLSelectElement).value)}>
        {props.options.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </select>
    );
  } else {
    input = (
      <input
        {...common}
        // Preact types each input type as its own union member; tsc needs the cast, the linter's view of the union does not.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
        type={(props.type ?? 'text') as 'text'}
        value={props.value == null ? '' : String(props.value)}
        autoComplete={props.autoComplete}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
    );
  }
  return (
    <div class={props.type === 'checkbox' ? 'field checkbox' : 'field'} data-field={props.name}>
      {props.type === 'checkbox' ? (
        <>
          {input}
          <label for={id}>{props.label}</label>
        </>
      ) : (
        <>
          <label for={id}>{props.label}</label>
          {input}
        </>
      )}
      {props.hint && <span class="hint">{props.hint}</span>}
      {props.error && (
        <span class="error" id={errId} role="alert">
          {props.error}
        </span>
      )}
    </div>
  );
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      aria-label={label}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setCopied(true);
          toast('Copied to the clipboard', 'ok');
          setTimeout(() => setCopied(false), 1500);
        } catch {
          toast('The browser refused clipboard access; select the text and copy it', 'error');
        }
      }}
    >
      {copied ? 'Copied' : 'Copy'}
    </button>
  );
}

export function EyeIcon({ open }: { open: boolean }) {
  return (
    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2">
      <path d="M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z" />
      <circle cx="12" cy="12" r="3" />
      {!open && <path d="M3 3l18 18" />}
    </svg>
  );
}

/** A secret shown once (new SIP password, PIN, API secret): says so, with a copy button. */
export function OneTimeSecret({ label, value }: { label: string; value: string }) {
  return (
    <div class="field">
      <span class="hint">{label} (shown once)</span>
      <div class="row">
        <code class="secret" data-secret={label}>
          {value}
        </code>
        <CopyButton text={value} label={`Copy ${label}`} />
      </div>
    </div>
  );
}

export function Card({ title, children, class: cls }: { title?: string; children: ComponentChildren; class?: string }) {
  return (
    <section class={`card ${cls ?? ''}`} aria-label={title}>
      {title && <h2>{title}</h2>}
      {children}
    </section>
  );
}

/** Loads data on mount (and when deps change); errors become a toast. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [T | undefined, () => void, boolean] {
  const [data, setData] = useState<T | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load()
      .then((d) => live && setData(d))
      .catch((e) => live && toastError(e))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return [data, () => setTick((t) => t + 1), loading];
}

export function fmtDate(s: string | null | undefined): string {
  if (!s) return '—';
  const d = new Date(s);
  return isNaN(d.getTime()) ? s : d.toLocaleString();
}

/** One page of any list endpoint (every list answers {data, next_cursor}). */
export interface ListPage<T> {
  data: T[];
  next_cursor?: string | null;
}

export interface PagedList<T> {
  /** Every row loaded so far, in the API's order. */
  rows: T[];
  /** undefined until the first page arrived. */
  loaded: boolean;
  loading: boolean;
  hasMore: boolean;
  loadMore: () => void;
  /** Reads again as many rows as are shown (after a change), keeping the reader's place. */
  reload: () => void;
}

/**
 * A list read page by page with the API's keyset cursors ("Load more"), so it
 * reaches every row however many there are. Each read carries a generation:
 * an answer that arrives after the filters changed, the page was left or a
 * reload started is dropped instead of overwriting newer rows.
 */
export function usePagedList<T>(fetchPage: (cursor: string | undefined) => Promise<ListPage<T>>, deps: unknown[]): PagedList<T> {
  const [state, setState] = useState<{ rows: T[]; next: string | null; pages: number; loaded: boolean }>({
    rows: [],
    next: null,
    pages: 0,
    loaded: false,
  });
  const [loading, setLoading] = useState(true);
  const gen = useRef(0);
  const pagesRef = useRef(0);
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;

  /** Reads `pages` pages from the start and replaces the rows with them. */
  const readFromStart = (pages: number) => {
    const mine = ++gen.current;
    setLoading(true);
    void (async () => {
      try {
        const rows: T[] = [];
        let next: string | null = null;
        let read = 0;
        do {
          const page: ListPage<T> = await fetchRef.current(next ?? undefined);
          if (mine !== gen.current) return;
          rows.push(...page.data);
          next = page.next_cursor ?? null;
          read += 1;
        } while (next && read < pages);
        pagesRef.current = read;
        setState({ rows, next, pages: read, loaded: true });
      } catch (e) {
        if (mine === gen.current) toastError(e);
      } finally {
        if (mine === gen.current) setLoading(false);
      }
    })();
  };

  useEffect(() => {
    readFromStart(1);
    return () => {
      gen.current += 1;
    };
  }, deps);

  const loadMore = () => {
    const cursor = state.next;
    if (!cursor) return;
    const mine = ++gen.current;
    setLoading(true);
    fetchRef
      .current(cursor)
      .then((page) => {
        if (mine !== gen.current) return;
        pagesRef.current += 1;
        setState((s) => ({ rows: [...s.rows, ...page.data], next: page.next_cursor ?? null, pages: s.pages + 1, loaded: true }));
      })
      .catch((e) => mine === gen.current && toastError(e))
      .finally(() => mine === gen.current && setLoading(false));
  };

  return {
    rows: state.rows,
    loaded: state.loaded,
    loading,
    hasMore: Boolean(state.next),
    loadMore,
    reload: () => readFromStart(Math.max(1, pagesRef.current)),
  };
}

/** The "Load more" control under a paged table: how many rows are shown, and the button while more exist. */
export function LoadMore({ list, what }: { list: Pick<PagedList<unknown>, 'rows' | 'hasMore' | 'loading' | 'loadMore' | 'loaded'>; what: string }) {
  if (!list.loaded) return null;
  return (
    <div class="row load-more">
      <span class="muted" data-testid={`count-${what.replace(/\W+/g, '-')}`}>
        {list.rows.length} {what} shown{list.hasMore ? '; more exist' : ''}
      </span>
      {list.hasMore && (
        <button type="button" onClick={list.loadMore} disabled={list.loading} aria-label={`Load more ${what}`}>
          Load more
        </button>
      )}
    </div>
  );
}
