// The recipes in deploy/ checked without a scheduler or a container runtime: the shell scripts parse,
// deploy/run.sh grants each command the permissions of its deno.json task, the Kubernetes Job tells
// the pods its number of completions, and the Containerfile copies what exists, caches every command
// that run.sh starts and installs the Deno version CI uses. (test/slurm_test.ts runs the Slurm script
// on a real scheduler; building the image needs a container runtime, which the tests do not assume.)
import assert from "node:assert/strict";
import { canSpawn, ROOT } from "./_cli.ts";

const read = (p: string) => Deno.readTextFile(`${ROOT}${p}`);

/** The commands deploy/run.sh knows, with their permissions. */
async function runShCommands(): Promise<Map<string, string>> {
  const text = await read("deploy/run.sh");
  return new Map([...text.matchAll(/^(\w+)\) permissions="([^"]*)" ;;$/gm)].map((m) => [m[1], m[2]]));
}

Deno.test("deploy/run.sh gives each command its deno.json task's permissions", async () => {
  const tasks = JSON.parse(await read("deno.json")).tasks as Record<string, string>;
  const commands = await runShCommands();
  assert.deepEqual([...commands.keys()].sort(), ["info", "prepare", "segment", "summarize", "train"]);
  for (const [name, permissions] of commands) {
    const task = tasks[name];
    assert.ok(task, `no task ${name}`);
    const flags = (s: string) => s.split(/\s+/).filter((w) => w.startsWith("--allow-")).sort();
    assert.deepEqual(flags(permissions), flags(task), name);
    assert.match(task, new RegExp(`cli/${name}\\.ts`));
  }
});

Deno.test({
  name: "the deploy scripts parse (bash -n)",
  ignore: !canSpawn,
  async fn() {
    for (const f of ["deploy/run.sh", "deploy/slurm/segment-array.sbatch", "deploy/slurm/submit.sh"]) {
      const r = await new Deno.Command("bash", { args: ["-n", `${ROOT}${f}`], stderr: "piped" }).output();
      assert.equal(r.code, 0, `${f}: ${new TextDecoder().decode(r.stderr)}`);
      assert.ok(((await Deno.stat(`${ROOT}${f}`)).mode! & 0o111) !== 0, `${f} is not executable`);
    }
  },
});

Deno.test("the Kubernetes Indexed Job tells its pods the number of completions", async () => {
  const text = await read("deploy/kubernetes/segment-job.yaml");
  assert.match(text, /^\s+completionMode: Indexed$/m);
  const completions = text.match(/^\s+completions: (\d+)$/m)?.[1];
  const env = text.match(/- name: JOB_COMPLETIONS\n\s+value: "(\d+)"/)?.[1];
  assert.ok(completions && completions === env, `completions ${completions}, JOB_COMPLETIONS ${env}`);
  const args = JSON.parse(text.match(/^\s+args: (\[.*\])$/m)![1]) as string[];
  assert.ok((await runShCommands()).has(args[0]), `the image's entry point has no command ${args[0]}`);
});

Deno.test("the Containerfile copies what exists, caches every command and installs the Deno that ./run installs", async () => {
  const text = await read("deploy/Containerfile");
  assert.match(text, /^FROM debian:/m);
  assert.match(text, /mesa-vulkan-drivers/);
  assert.match(text, /libvulkan1/);
  assert.match(text, /NVIDIA_DRIVER_CAPABILITIES=.*graphics/, "graphics brings NVIDIA's Vulkan ICD");
  const ci = (await read("run")).match(/^DENO_VERSION=(\d+\.\d+\.\d+)$/m)?.[1];
  assert.equal(text.match(/^ARG DENO_VERSION=(.*)$/m)?.[1], ci);
  for (const m of text.matchAll(/^COPY (.+) (\S+)$/gm)) {
    for (const src of m[1].split(/\s+/)) await Deno.stat(`${ROOT}${src}`);
  }
  const cached = text.match(/deno cache --frozen (.*?) \\?$/m)![1].split(/\s+/);
  for (const name of (await runShCommands()).keys()) assert.ok(cached.includes(`cli/${name}.ts`), name);
  const entry = text.match(/^ENTRYPOINT \["(.*)"\]$/m)![1];
  assert.equal(entry, "/opt/segment/deploy/run.sh");
});
