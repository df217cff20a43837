import { useEffect, useState } from 'preact/hooks';

/** A value components can subscribe to (a few lines instead of a state library). */
export interface Signal<T> {
  get(): T;
  set(v: T): void;
  subscribe(fn: (v: T) => void): () => void;
}

export function signal<T>(initial: T): Signal<T> {
  let value = initial;
  const subs = new Set<(v: T) => void>();
  return {
    get: () => value,
    set(v) {
      value = v;
      for (const s of subs) s(v);
    },
    subscribe(fn) {
      subs.add(fn);
      return () => subs.delete(fn);
    },
  };
}

export function useSignal<T>(s: Signal<T>): T {
  const [v, setV] = useState(s.get());
  useEffect(() => {
    const unsubscribe = s.subscribe(setV);
    // Effects run after the browser paints: a value set between the render and this subscription
    // (the first GET /v1/me answering quickly) would otherwise never reach the component, which
    // then showed "Loading…" for good. Setting the value it already has renders nothing.
    setV(s.get());
    return unsubscribe;
  }, [s]);
  return v;
}
