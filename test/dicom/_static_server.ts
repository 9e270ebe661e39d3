// A static file server on 127.0.0.1 for browser_test.ts, run as its own process (so the test suite
// needs no network permission): serves the folder given as the first argument, prints its port; the
// test ends it with SIGTERM.
const root = Deno.args[0];
const types: Record<string, string> = { html: "text/html", js: "text/javascript", json: "application/json" };
const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => console.log(port) },
  async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname).replace(/^\/+/, "") || "index.html";
    if (path.split("/").includes("..")) return new Response("no", { status: 403 });
    try {
      const body = await Deno.readFile(`${root}/${path}`);
      return new Response(body, {
        headers: { "content-type": types[path.split(".").pop()!] ?? "application/octet-stream" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  },
);
// The test stops it when done; two minutes at most in any case.
setTimeout(() => server.shutdown(), 120_000);
