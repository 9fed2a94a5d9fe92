// A tiny validator combinator set: each message schema both checks `unknown` input and names its TS type.

export type Schema<T> = {
  /** Returns the value typed, or a string saying what is wrong at which path. */
  check(value: unknown, path: string): T | SchemaFailure;
  readonly description: string;
};

export class SchemaFailure {
  constructor(readonly reason: string) {}
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

const fail = (path: string, expected: string, value: unknown): SchemaFailure =>
  new SchemaFailure(`${path}: expected ${expected}, got ${describe(value)}`);

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (value instanceof Uint8Array) return `bytes(${value.length})`;
  return typeof value;
}

function primitive<T>(description: string, test: (value: unknown) => boolean): Schema<T> {
  return {
    description,
    check: (value, path) => (test(value) ? (value as T) : fail(path, description, value)),
  };
}

export const str = (maxLength = 4096): Schema<string> =>
  primitive(`string of at most ${maxLength} chars`, (v) => typeof v === "string" && v.length <= maxLength);
export const num: Schema<number> = primitive("finite number", (v) => typeof v === "number" && Number.isFinite(v));
export const uint: Schema<number> = primitive(
  "non-negative integer",
  (v) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0,
);
export const bool: Schema<boolean> = primitive("boolean", (v) => typeof v === "boolean");
export const bytes = (maxLength: number): Schema<Uint8Array> =>
  primitive(`bytes of at most ${maxLength}`, (v) => v instanceof Uint8Array && v.length <= maxLength);

export function literal<const T extends string>(...values: T[]): Schema<T> {
  const allowed = new Set<string>(values);
  return primitive(`one of ${values.join("|")}`, (v) => typeof v === "string" && allowed.has(v));
}

export function optional<T>(inner: Schema<T>): Schema<T | undefined> {
  return {
    description: `optional ${inner.description}`,
    check: (value, path) => (value === undefined || value === null ? undefined : inner.check(value, path)),
  };
}

export function array<T>(item: Schema<T>, maxLength: number): Schema<T[]> {
  return {
    description: `array of ${item.description}`,
    check(value, path) {
      if (!Array.isArray(value) || value.length > maxLength) {
        return fail(path, `array of at most ${maxLength}`, value);
      }
      for (let index = 0; index < value.length; index++) {
        const result = item.check(value[index], `${path}[${index}]`);
        if (result instanceof SchemaFailure) return result;
      }
      return value as T[];
    },
  };
}

/** A string-keyed map of values (e.g. resources by name). */
export function record<T>(item: Schema<T>, keysMax: number): Schema<Record<string, T>> {
  return {
    description: `record of ${item.description}`,
    check(value, path) {
      if (!isPlainObject(value)) return fail(path, "object", value);
      const keys = Object.keys(value);
      if (keys.length > keysMax) return fail(path, `object with at most ${keysMax} keys`, value);
      for (const key of keys) {
        if (key.length > 256) return new SchemaFailure(`${path}: key longer than 256 chars`);
        const result = item.check(value[key], `${path}.${key}`);
        if (result instanceof SchemaFailure) return result;
      }
      return value as Record<string, T>;
    },
  };
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: undefined extends Infer<S[K]> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & {
  [K in OptionalKeys<S>]?: Infer<S[K]>;
};

export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  const entries = Object.entries(shape);
  return {
    description: "object",
    check(value, path) {
      if (!isPlainObject(value)) return fail(path, "object", value);
      for (const [key, schema] of entries) {
        const result = schema.check(value[key], `${path}.${key}`);
        if (result instanceof SchemaFailure) return result;
      }
      return value as ObjectOf<S>;
    },
  };
}

/** Values passed through untouched (user payloads already validated elsewhere). */
export const anything: Schema<unknown> = { description: "any value", check: (value) => value };

/** A union of object schemas told apart by a literal field. */
export function tagged<K extends string, M extends Record<string, Schema<object>>>(
  tag: K,
  members: M,
): Schema<{ [N in keyof M]: Infer<M[N]> & { [T in K]: N } }[keyof M]> {
  return {
    description: `object tagged by ${tag}`,
    check(value, path) {
      if (!isPlainObject(value)) return fail(path, "object", value);
      const name = value[tag];
      if (typeof name !== "string" || !Object.hasOwn(members, name)) {
        // Never stringify a non-string tag: bigints and cyclic values (both decodable) make JSON.stringify throw.
        const shown = typeof name === "string" ? JSON.stringify(name.slice(0, 80)) : describe(name);
        return new SchemaFailure(`${path}.${tag}: unknown ${tag} ${shown}`);
      }
      return (members[name] as Schema<object>).check(value, path) as never;
    },
  };
}

/** Only literal-like objects: msgpackr can also decode Sets, Dates, RegExps and Errors, which are not records. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
