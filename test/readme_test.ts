/**
 * Every command in the README's shell blocks is run, so that none goes stale: here, in a scratch copy
 * of the repository (symbolic links to its files, so outputs land in the scratch folder), exactly as
 * written, or with the extra options listed below where the README's run takes too long (a training
 * run of 45 minutes becomes a few iterations); or, for the few commands another test or CI runs, by
 * naming that test. A README command that this table does not know fails the test.
 */
import assert from "node:assert/strict";
import { canSpawn, ROOT } from "./_cli.ts";
import { readLabels } from "../src/io/volumes.ts";

/** How the test exercises one README command. */
type Plan =
  | { run: true; extra?: string[]; check?: (dir: string, out: string) => Promise<void> }
  | { elsewhere: string; marker: string };

const exists = async (path: string) => (await Deno.stat(path)).size > 0;

const PLANS: Record<string, Plan> = {
  "./run segment data/abdomen-ct-a.nii.gz --preview abdomen-ct-a.png": {
    run: true,
    check: async (dir, out) => {
      const seg = await readLabels(`${dir}/abdomen-ct-a.seg.nii.gz`);
      assert.deepEqual(seg.dims, [122, 101, 112]);
      assert.ok(await exists(`${dir}/abdomen-ct-a.png`));
      // the sample stops at the top of the liver: the table says the scan cuts it
      assert.match(out, /^liver .* cut/m);
    },
  },
  "./run test": { elsewhere: ".ci/run", marker: "./run test" },
  "deno task segment data/abdomen-ct-a.nii.gz --reference data/abdomen-ct-a.labels.nii.gz --json report.json":
    {
      run: true,
      check: async (dir, out) => {
        assert.match(out, /mean Dice: \d\.\d{3}/);
        const report = JSON.parse(await Deno.readTextFile(`${dir}/report.json`));
        assert.equal(report.organs.length, 7);
        assert.equal(report.organs.find((o: { name: string }) => o.name === "liver").touches_edge, true);
        // the shipped demo model finds every organ of its own training case (issue: the aorta died out)
        for (const o of report.organs as { name: string; dice: number | null }[]) {
          assert.ok(o.dice !== null && o.dice >= 0.5, `the demo model's Dice for the ${o.name} is ${o.dice}`);
        }
      },
    },
  "deno task info data/dicom/abdomen-ct-c": {
    run: true,
    check: (_, out) => Promise.resolve(assert.match(out, /DICOM series, 20 slices/)),
  },
  "deno task segment data/dicom/abdomen-ct-c -o c.seg.dcm": {
    run: true,
    check: async (dir) => assert.ok(await exists(`${dir}/c.seg.dcm`)),
  },
  "deno task segment data/dicom/abdomen-ct-c -o c.seg.nii.gz --dicom-seg c.seg.dcm": {
    run: true,
    check: async (dir) => {
      assert.deepEqual((await readLabels(`${dir}/c.seg.nii.gz`)).dims, [512, 512, 20]);
      assert.ok(await exists(`${dir}/c.seg.dcm`));
    },
  },
  "deno task web": { elsewhere: "web/test/serve_test.ts", marker: "deno task web prints the URL" },
  "deno task segment data/abdomen-ct-a.nii.gz data/dicom/abdomen-ct-c -o batch-out": {
    run: true,
    check: async (dir) => {
      for (const name of ["abdomen-ct-a", "abdomen-ct-c"]) {
        assert.ok(await exists(`${dir}/batch-out/${name}.seg.nii.gz`));
      }
      const summary = await Deno.readTextFile(`${dir}/batch-out/summary.csv`);
      assert.equal(summary.trim().split("\n").length, 3, summary);
    },
  },
  // the README's run trains for about 45 minutes; here both stages take a few iterations
  "deno task train --data data --out my-model": {
    run: true,
    extra: ["--iterations", "2", "--validate-every", "2", "--progress", "off", "--cache", "train-cache"],
    check: async (dir, out) => {
      assert.match(out, /preset: fast \(/);
      for (const s of [1, 2]) assert.ok(await exists(`${dir}/my-model/stage${s}.safetensors`));
    },
  },
  "deno task segment data/abdomen-ct-a.nii.gz --model my-model --reference data/abdomen-ct-a.labels.nii.gz": {
    run: true,
    check: (_, out) => Promise.resolve(assert.match(out, /mean Dice/)),
  },
};

/** The commands of the README's `sh` blocks, in order, without trailing comments. */
async function readmeCommands(): Promise<string[]> {
  const text = await Deno.readTextFile(`${ROOT}README.md`);
  const out: string[] = [];
  for (const block of text.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    for (const line of block[1].split("\n")) {
      const cmd = line.replace(/\s+#.*$/, "").trim();
      if (cmd) out.push(cmd);
    }
  }
  return out;
}

/** A scratch folder whose entries link to the repository's, so that commands run there write there. */
async function scratchRepo(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "readme-" });
  for await (const e of Deno.readDir(ROOT)) {
    if (e.name === ".git" || e.name === "node_modules") continue;
    await Deno.symlink(`${ROOT}${e.name}`, `${dir}/${e.name}`);
  }
  return dir;
}

/** Splits a README command into words (no quoting is used there). */
const words = (cmd: string) => cmd.split(/\s+/);

Deno.test("every README command is known to this test, run here or by a named test", async () => {
  const commands = await readmeCommands();
  assert.ok(commands.length >= 8, "the README's shell blocks were found");
  const unknown = commands.filter((c) => !(c in PLANS));
  assert.deepEqual(unknown, [], "a README command that no test runs");
  const stale = Object.keys(PLANS).filter((c) => !commands.includes(c));
  assert.deepEqual(stale, [], "a planned command that the README no longer has");
  for (const plan of Object.values(PLANS)) {
    if ("elsewhere" in plan) {
      const text = await Deno.readTextFile(`${ROOT}${plan.elsewhere}`);
      assert.ok(text.includes(plan.marker), `${plan.elsewhere} runs "${plan.marker}"`);
    }
  }
});

Deno.test({
  name: "the README's commands run as written (training shortened) in a scratch copy of the repository",
  ignore: !canSpawn,
  async fn(t) {
    const dir = await scratchRepo();
    try {
      for (const cmd of await readmeCommands()) {
        const plan = PLANS[cmd];
        if (!plan || !("run" in plan)) continue;
        await t.step(cmd, async () => {
          const [program, ...args] = words(cmd);
          const exe = program === "deno" ? Deno.execPath() : `${dir}/${program.replace(/^\.\//, "")}`;
          const out = await new Deno.Command(exe, {
            args: [...args, ...(plan.extra ?? [])],
            cwd: dir,
            env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
            stdout: "piped",
            stderr: "piped",
          }).output();
          const stdout = new TextDecoder().decode(out.stdout), stderr = new TextDecoder().decode(out.stderr);
          assert.equal(out.code, 0, `${cmd}\n${stdout}\n${stderr}`);
          await plan.check?.(dir, stdout);
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
