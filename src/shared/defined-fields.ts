/**
 * The named fields a PATCH body actually carries: absent means "leave as is",
 * null means "clear", so only `undefined` is dropped.
 */
export function definedFields<T extends object, K extends keyof T>(input: T, keys: readonly K[]): { [P in K]?: Exclude<T[P], undefined> } {
  const out: { [P in K]?: Exclude<T[P], undefined> } = {};
  for (const k of keys) if (input[k] !== undefined) out[k] = input[k] as Exclude<T[K], undefined>;
  return out;
}
