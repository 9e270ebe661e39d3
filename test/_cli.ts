/** Running the project's CLI scripts as subprocesses, with the permissions their tasks grant. */

/** The repository root (a path). */
export const ROOT: string = new URL("../", import.meta.url).pathname;

/** Output of a CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `deno run <permissions> cli/<script> ...args` from `cwd` (default the root), without colours;
 * `config` runs it with the benchmark's configuration, as `deno task bench` does.
 */
export async function runCli(
  script: string,
  args: string[],
  opts: { permissions?: string[]; cwd?: string; config?: boolean } = {},
): Promise<CliResult> {
  const permissions = opts.permissions ?? ["--allow-read", "--allow-write", "--allow-env"];
  const out = await new Deno.Command(Deno.execPath(), {
    // config: run with the benchmark's own configuration (its reference libraries' import map)
    args: ["run", ...(opts.config ? ["--config", `${ROOT}bench/deno.json`] : []), ...permissions]
      .concat([`${ROOT}cli/${script}`, ...args]),
    cwd: opts.cwd ?? ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** Spawning needs --allow-run (`deno task test` grants it). */
export const canSpawn: boolean = Deno.permissions.querySync({ name: "run" }).state === "granted";
