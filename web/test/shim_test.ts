/**
 * The browser stand-ins of web/test/shim/ against the real thing: the assert shim passes and fails
 * exactly where Deno's `node:assert/strict` does, on the kinds of calls the kernel tests make, so a
 * kernel test that runs green in Chromium would run green in Deno too.
 */
import real from "node:assert/strict";
import shim from "./shim/assert.ts";
import { fileURLToPath as realPath } from "node:url";
import { fileURLToPath as shimPath } from "./shim/node_url.ts";

type Assert = typeof shim;

class ShapeError extends Error {}

/** Calls that pass and calls that fail, each run against both implementations. */
const CASES: [string, (a: Assert) => unknown][] = [
  ["ok true", (a) => a.ok(1)],
  ["ok false", (a) => a.ok(0, "zero")],
  ["equal", (a) => a.equal(3, 3)],
  ["equal differs", (a) => a.equal(3, 4)],
  ["equal is strict", (a) => a.equal(3, "3" as unknown)],
  ["equal NaN", (a) => a.equal(NaN, NaN)],
  ["equal -0", (a) => a.equal(0, -0)],
  ["notEqual", (a) => a.notEqual(1, 2)],
  ["notEqual same", (a) => a.notEqual(1, 1)],
  ["deepEqual arrays", (a) => a.deepEqual([1, [2, 3]], [1, [2, 3]])],
  ["deepEqual arrays differ", (a) => a.deepEqual([1, 2], [1, 3])],
  ["deepEqual lengths", (a) => a.deepEqual([1, 2], [1, 2, 3])],
  ["deepEqual typed", (a) => a.deepEqual(new Float32Array([1, 2]), new Float32Array([1, 2]))],
  ["deepEqual typed differ", (a) => a.deepEqual(new Float32Array([1, 2]), new Float32Array([1, 2.5]))],
  ["deepEqual typed kinds", (a) => a.deepEqual(new Float32Array([1]), new Float64Array([1]))],
  ["deepEqual array vs typed", (a) => a.deepEqual([1, 2], new Uint8Array([1, 2]))],
  ["deepEqual objects", (a) => a.deepEqual({ x: 1, y: [2] }, { y: [2], x: 1 })],
  ["deepEqual objects differ", (a) => a.deepEqual({ x: 1 }, { x: 1, y: 2 })],
  ["deepEqual strict types", (a) => a.deepEqual({ x: 1 }, { x: "1" })],
  ["deepEqual NaN", (a) => a.deepEqual([NaN], [NaN])],
  ["notDeepEqual", (a) => a.notDeepEqual([1], [2])],
  ["notDeepEqual same", (a) => a.notDeepEqual([1], [1])],
  ["throws class", (a) =>
    a.throws(() => {
      throw new ShapeError("bad shape [1,2]");
    }, ShapeError)],
  ["throws wrong class", (a) =>
    a.throws(() => {
      throw new TypeError("x");
    }, ShapeError)],
  ["throws regexp", (a) =>
    a.throws(() => {
      throw new ShapeError("bad shape [1,2]");
    }, /\[1,2\]/)],
  ["throws regexp misses", (a) =>
    a.throws(() => {
      throw new ShapeError("bad shape");
    }, /\[1,2\]/)],
  ["throws validator", (a) =>
    a.throws(() => {
      throw new ShapeError("m");
    }, (e: unknown) => e instanceof ShapeError && /m/.test(e.message))],
  ["throws validator false", (a) =>
    a.throws(() => {
      throw new ShapeError("m");
    }, (e: unknown) => e instanceof TypeError)],
  ["throws nothing", (a) => a.throws(() => 1)],
  ["throws object", (a) =>
    a.throws(() => {
      throw new RangeError("out of range");
    }, { name: "RangeError", message: /range/ })],
  ["throws object misses", (a) =>
    a.throws(() => {
      throw new RangeError("out of range");
    }, { name: "TypeError" })],
  ["rejects class", (a) => a.rejects(() => Promise.reject(new ShapeError("x")), ShapeError)],
  ["rejects wrong class", (a) => a.rejects(() => Promise.reject(new TypeError("x")), ShapeError)],
  ["rejects regexp", (a) => a.rejects(Promise.reject(new Error("3 numbers per voxel")), /3 numbers/)],
  ["rejects nothing", (a) => a.rejects(() => Promise.resolve(1))],
  ["match", (a) => a.match("abc", /b/)],
  ["match misses", (a) => a.match("abc", /d/)],
  ["doesNotMatch", (a) => a.doesNotMatch("abc", /d/)],
  ["doesNotMatch hits", (a) => a.doesNotMatch("abc", /b/)],
];

async function outcome(f: () => unknown): Promise<"pass" | "fail"> {
  try {
    await f();
    return "pass";
  } catch {
    return "fail";
  }
}

Deno.test("the assert shim passes and fails where node:assert/strict does", async () => {
  const differ: string[] = [];
  let fails = 0;
  for (const [name, call] of CASES) {
    const expected = await outcome(() => call(real as unknown as Assert));
    const got = await outcome(() => call(shim));
    if (expected === "fail") fails++;
    if (expected !== got) differ.push(`${name}: node ${expected}, shim ${got}`);
  }
  real.deepEqual(differ, []);
  real.ok(
    fails >= 15 && fails < CASES.length,
    `${fails} of ${CASES.length} cases fail: both kinds are covered`,
  );
});

Deno.test("the node:url shim gives the path of a file URL", () => {
  for (
    const u of ["file:///work/data/a b.nii.gz", "file:///x/%C3%A9.ts", "http://127.0.0.1:8000/data/ct.nii.gz"]
  ) {
    const expected = u.startsWith("file:") ? realPath(u) : "/data/ct.nii.gz";
    real.equal(shimPath(u), expected);
  }
});
