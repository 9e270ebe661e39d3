/**
 * The commands as a stranger meets them: help and first errors in one format, the data checked before
 * the GPU starts, an interrupted training run that checkpoints and says so in its exit code (130 for
 * Ctrl-C, 143 for the SIGTERM that Slurm and Kubernetes send), and the adapter list.
 */
import assert from "node:assert/strict";
import { canSpawn, ROOT, runCli } from "./_cli.ts";
import { defaultPreset } from "../src/cascade/presets.ts";
import { readLabels, readNifti, writeNifti } from "../src/io/volumes.ts";
import { cropVolume } from "../src/volume/bbox.ts";

const ALL = ["--allow-read", "--allow-write", "--allow-env", "--allow-run", "--allow-sys", "--allow-ffi"];

Deno.test("the default preset fits the adapter and the data, and says why", () => {
  const soft = defaultPreset({ software: true, voxelMm: 0.8 });
  assert.equal(soft.preset.name, "fast");
  assert.match(soft.why, /software/);
  const coarse = defaultPreset({ software: false, voxelMm: 3 });
  assert.equal(coarse.preset.name, "fast", "the README's sample (3 mm) trains the fast preset on a GPU too");
  assert.match(coarse.why, /3 mm/);
  assert.equal(defaultPreset({ software: false, voxelMm: 0.9 }).preset.name, "paper");
});

Deno.test({
  name: "every command answers -h with its help and a bad option with one `error:` line and exit 1",
  ignore: !canSpawn,
  async fn() {
    for (const cmd of ["segment.ts", "train.ts", "info.ts", "bench.ts"]) {
      const help = await runCli(cmd, ["-h"], { permissions: ALL, config: cmd === "bench.ts" });
      assert.equal(help.code, 0, `${cmd}: ${help.stderr}`);
      assert.match(help.stdout, /--help/, cmd);
      const bad = await runCli(cmd, ["--no-such-option"], { permissions: ALL, config: cmd === "bench.ts" });
      assert.equal(bad.code, 1, cmd);
      assert.match(bad.stderr.trim(), /^error: Unknown option '--no-such-option' \(see --help\)$/, cmd);
    }
    const adapter = await runCli("segment.ts", ["x.nii.gz", "--adapter", "fastest"], { permissions: ALL });
    assert.match(adapter.stderr.trim(), /^error: --adapter must be high-performance, low-power, software/);
  },
});

Deno.test({
  name: "train checks its data folder before it starts the GPU",
  ignore: !canSpawn,
  async fn() {
    const r = await runCli("train.ts", ["--data", "/no/such/folder", "--out", "/tmp/never"], {
      permissions: ALL,
    });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), "error: /no/such/folder: folder not found");
    assert.doesNotMatch(r.stdout, /adapter/);
  },
});

Deno.test({
  name: "info --adapters lists what each --adapter choice gives",
  ignore: !canSpawn,
  async fn() {
    const r = await runCli("info.ts", ["--adapters"], { permissions: ALL });
    assert.equal(r.code, 0, r.stderr);
    for (const c of ["high-performance", "low-power", "software"]) {
      assert.match(r.stdout, new RegExp(`^${c} `, "m"));
    }
  },
});

/** A folder with one small case cut from the sample CT (its labels come from TotalSegmentator). */
async function smallData(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const box = { min: [20, 20, 60], max: [100, 80, 100] } as {
    min: [number, number, number];
    max: [number, number, number];
  };
  await writeNifti(`${dir}/crop.nii.gz`, cropVolume(await readNifti(`${ROOT}data/abdomen-ct-a.nii.gz`), box));
  await writeNifti(
    `${dir}/crop.labels.nii.gz`,
    cropVolume(await readLabels(`${ROOT}data/abdomen-ct-a.labels.nii.gz`), box),
  );
  return dir;
}

for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  Deno.test({
    name: `train stopped by ${signal} writes its checkpoint and exits with ${code}`,
    ignore: !canSpawn,
    async fn() {
      const data = await smallData();
      const out = await Deno.makeTempDir();
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", ...ALL, `${ROOT}cli/train.ts`, "--data", data, "--out", out, "--stage", "1"]
          .concat(["--preset", "fast", "--iterations", "5000", "--progress", "off"]),
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      const decoder = new TextDecoder();
      let stdout = "";
      const reader = child.stdout.getReader();
      while (!/training case/.test(stdout)) {
        const { value, done } = await reader.read();
        if (done) break;
        stdout += decoder.decode(value);
      }
      child.kill(signal);
      for (let r = await reader.read(); !r.done; r = await reader.read()) stdout += decoder.decode(r.value);
      const stderr = await new Response(child.stderr).text();
      const status = await child.status;
      assert.equal(status.code, code, stderr);
      assert.match(stdout, /interrupted: continue with the same command and --resume/);
      assert.ok((await Deno.stat(`${out}/stage1.checkpoint.safetensors`)).size > 0);
    },
  });
}

Deno.test({
  name: "prepare picks the preset as train does, and says why",
  ignore: !canSpawn,
  async fn() {
    const data = await smallData();
    const r = await runCli("prepare.ts", ["--data", data, "--progress", "off"], { permissions: ALL });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /preset fast \((a software adapter is too slow|the CTs have 3 mm voxels)/);
  },
});
