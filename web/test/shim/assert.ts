/**
 * The part of `node:assert/strict` the project's tests use, for running them in a browser page
 * (web/test/kernels_test.ts bundles them with this module in its place): ok, equal, notEqual,
 * deepEqual, notDeepEqual, throws, rejects, match, doesNotMatch, fail, with Node's strict semantics
 * (Object.is for primitives, element by element for arrays and typed arrays, own keys for objects).
 */

/** A failed assertion. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    const a = v as unknown as ArrayLike<unknown>;
    return `${v.constructor.name}(${a.length}) [${Array.from(a).slice(0, 8).join(", ")}${
      a.length > 8 ? ", ..." : ""
    }]`;
  }
  try {
    const s = JSON.stringify(v);
    if (s !== undefined) return s.length > 200 ? `${s.slice(0, 200)}...` : s;
  } catch {
    // cyclic: below
  }
  return String(v);
}

function fail(message?: string | Error, fallback = "Failed"): never {
  if (message instanceof Error) throw message;
  throw new AssertionError(message ?? fallback);
}

/** Node's strict deep equality (no cycles: the tests have none). */
export function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (a instanceof RegExp) return String(a) === String(b);
  if (ArrayBuffer.isView(a)) {
    const x = a as unknown as ArrayLike<unknown>, y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (a instanceof Map) {
    const m = b as Map<unknown, unknown>;
    if (a.size !== m.size) return false;
    for (const [k, v] of a) if (!m.has(k) || !isDeepStrictEqual(v, m.get(k))) return false;
    return true;
  }
  if (a instanceof Set) {
    const s = b as Set<unknown>;
    if (a.size !== s.size) return false;
    for (const v of a) if (!s.has(v)) return false;
    return true;
  }
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ob = b as Record<string, unknown>, oa = a as Record<string, unknown>;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(ob, k) && isDeepStrictEqual(oa[k], ob[k]));
}

type Expected =
  | RegExp
  | (new (...args: never[]) => unknown)
  | ((e: unknown) => boolean)
  | Record<string, unknown>;

/** Whether the thrown `e` is what `expected` describes (Node's rules: a class, a validator, a RegExp, an object). */
function matches(e: unknown, expected: Expected | undefined): boolean {
  if (expected === undefined) return true;
  if (expected instanceof RegExp) return expected.test(String(e));
  if (typeof expected === "function") {
    if (expected.prototype !== undefined && e instanceof (expected as new () => unknown)) return true;
    if (expected === Error || expected.prototype instanceof Error) return false;
    return (expected as (e: unknown) => boolean)(e) === true;
  }
  const obj = e as Record<string, unknown>;
  return Object.entries(expected).every(([k, v]) =>
    v instanceof RegExp && typeof obj?.[k] === "string"
      ? v.test(obj[k] as string)
      : isDeepStrictEqual(obj?.[k], v)
  );
}

const assert = {
  ok(value: unknown, message?: string | Error): asserts value {
    if (!value) fail(message, `expected a truthy value, got ${show(value)}`);
  },
  equal(actual: unknown, expected: unknown, message?: string | Error): void {
    if (!Object.is(actual, expected)) fail(message, `expected ${show(expected)}, got ${show(actual)}`);
  },
  strictEqual(actual: unknown, expected: unknown, message?: string | Error): void {
    assert.equal(actual, expected, message);
  },
  notEqual(actual: unknown, expected: unknown, message?: string | Error): void {
    if (Object.is(actual, expected)) fail(message, `expected something other than ${show(expected)}`);
  },
  deepEqual(actual: unknown, expected: unknown, message?: string | Error): void {
    if (!isDeepStrictEqual(actual, expected)) {
      fail(message, `not deeply equal: got ${show(actual)}, expected ${show(expected)}`);
    }
  },
  deepStrictEqual(actual: unknown, expected: unknown, message?: string | Error): void {
    assert.deepEqual(actual, expected, message);
  },
  notDeepEqual(actual: unknown, expected: unknown, message?: string | Error): void {
    if (isDeepStrictEqual(actual, expected)) fail(message, `expected a difference from ${show(expected)}`);
  },
  throws(fn: () => unknown, expected?: Expected | string, message?: string): void {
    if (typeof expected === "string") [message, expected] = [expected, undefined];
    try {
      fn();
    } catch (e) {
      if (!matches(e, expected)) {
        fail(message, `the error did not match: ${e instanceof Error ? e.message : e}`);
      }
      return;
    }
    fail(message, "Missing expected exception.");
  },
  async rejects(
    fn: (() => Promise<unknown>) | Promise<unknown>,
    expected?: Expected | string,
    message?: string,
  ): Promise<void> {
    if (typeof expected === "string") [message, expected] = [expected, undefined];
    try {
      await (typeof fn === "function" ? fn() : fn);
    } catch (e) {
      if (!matches(e, expected)) {
        fail(message, `the rejection did not match: ${e instanceof Error ? e.message : e}`);
      }
      return;
    }
    fail(message, "Missing expected rejection.");
  },
  match(value: string, re: RegExp, message?: string | Error): void {
    if (!re.test(value)) fail(message, `${show(value)} does not match ${re}`);
  },
  doesNotMatch(value: string, re: RegExp, message?: string | Error): void {
    if (re.test(value)) fail(message, `${show(value)} matches ${re}`);
  },
  fail(message?: string | Error): never {
    return fail(message);
  },
  AssertionError,
};

export default assert;
export const { ok, equal, notEqual, deepEqual, notDeepEqual, throws, rejects, match, doesNotMatch } = assert;
