/** `fileURLToPath` of `node:url` for the browser bundles of the tests: a URL's decoded path. */
export function fileURLToPath(url: string | URL): string {
  return decodeURIComponent(new URL(String(url)).pathname);
}
