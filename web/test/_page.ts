/**
 * Helpers of the page tests (page_test.ts, page_dicom_test.ts): web/dist/ served as `deno task web`
 * serves it, the page's state and status line, and the bytes behind its download links.
 */
import type { Page } from "puppeteer-core";
import { DIST } from "../build.ts";
import { staticHandler } from "../serve.ts";
import { gunzipChunks } from "../../src/volume/gzip.ts";

/** The page's state: idle, running, done or error. */
export const state = (page: Page): Promise<string | undefined> =>
  page.evaluate(() => document.body.dataset.state);

/** The page's one line of status. */
export const statusText = (page: Page): Promise<string> => page.$eval("#status", (e) => e.textContent ?? "");

/**
 * Waits until the page's state is one of `states`; returns it. Checked on every animation frame: a
 * timer-polled check lagged up to 20 s behind the page while a software adapter kept the machine busy.
 */
export async function waitState(page: Page, states: string[], timeoutMs: number): Promise<string> {
  await page.waitForFunction((s: string[]) => s.includes(document.body.dataset.state ?? ""), {
    timeout: timeoutMs,
    polling: "raf",
  }, states);
  return (await state(page))!;
}

/** Waits until the worker has compiled every kernel (the status says Ready). */
export async function waitReady(page: Page): Promise<void> {
  await page.waitForFunction(() => /^Ready/.test(document.getElementById("status")!.textContent!), {
    timeout: 120_000,
  });
}

/** Serves web/dist/ as `deno task web` does. */
export function serveDist(): { origin: string; close(): Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, staticHandler(DIST));
  return { origin: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

/** The bytes behind a link of the page (a blob: URL), fetched inside the page. */
export async function linkBytes(page: Page, selector: string): Promise<Uint8Array<ArrayBuffer>> {
  const b64 = await page.$eval(selector, async (a) => {
    const bytes = new Uint8Array(await (await fetch((a as HTMLAnchorElement).href)).arrayBuffer());
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  });
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** The bytes of a gzip file, decompressed. */
export async function gunzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of gunzipChunks(bytes, "label map")) parts.push(c);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
}
