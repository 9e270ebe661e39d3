/**
 * A private Slurm cluster on this machine for tests: Debian's slurmctld and slurmd with their own
 * munged (own key and socket), all state in a temporary folder, one node named after the host. It
 * needs root (SlurmUser=root) and the packages slurmctld, slurmd, slurm-client and munge.
 */

/** Why a private Slurm cannot start here, or null when it can. */
export async function slurmMissing(): Promise<string | null> {
  if (Deno.build.os !== "linux") return "Slurm tests run on Linux only";
  const uid = await new Deno.Command("id", { args: ["-u"], stdout: "piped", stderr: "null" }).output().catch(
    () => null,
  );
  if (new TextDecoder().decode(uid?.stdout).trim() !== "0") {
    return "the private Slurm cluster runs as root (SlurmUser=root)";
  }
  for (const bin of ["slurmctld", "slurmd", "munged", "sbatch", "squeue", "scontrol"]) {
    const found = await new Deno.Command("sh", {
      args: ["-c", `command -v ${bin}`],
      stdout: "null",
      stderr: "null",
    })
      .output().catch(() => null);
    if (!found?.success) {
      return `${bin} not found (apt-get install --no-install-recommends slurmctld slurmd slurm-client munge)`;
    }
  }
  return null;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${text.decode(out.stderr).trim()}`);
  return text.decode(out.stdout);
}

async function hostName(): Promise<string> {
  return (await run("hostname", ["-s"])).trim();
}

/** A random port pair above Slurm's defaults (6817, 6818), so that a real cluster here is left alone. */
function randomPort(): number {
  return 20000 + 2 * Math.floor(Math.random() * 10000);
}

async function waitFor(what: string, ok: () => Promise<boolean>, seconds: number): Promise<void> {
  const end = performance.now() + seconds * 1000;
  while (!(await ok())) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function readPid(path: string): Promise<number | null> {
  try {
    const pid = Number((await Deno.readTextFile(path)).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** A running private cluster. */
export interface Slurm {
  /** Environment for sbatch, squeue and scontrol (SLURM_CONF). */
  env: Record<string, string>;
  dir: string;
  /** Submits an array job; returns its id. */
  submitArray(
    script: string,
    args: string[],
    opts: { array: string; env?: Record<string, string>; output: string },
  ): Promise<string>;
  /** Waits until the job has left the queue (polling squeue). */
  waitJob(id: string, seconds: number): Promise<void>;
  /** Stops the daemons (by their PID files) and removes the folder. */
  stop(): Promise<void>;
}

/** Starts munged, slurmctld and slurmd with everything under a fresh temporary folder. */
export async function startSlurm(cpus: number): Promise<Slurm> {
  const dir = await Deno.makeTempDir({ prefix: "slurm-" });
  const host = await hostName();
  const key = `${dir}/munge.key`, socket = `${dir}/munge.socket`;
  await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(1024)), { mode: 0o400 });
  await Deno.chmod(key, 0o400);
  await Deno.chmod(dir, 0o700);
  await run("munged", [
    "--force",
    `--key-file=${key}`,
    `--socket=${socket}`,
    `--pid-file=${dir}/munged.pid`,
    `--log-file=${dir}/munged.log`,
    `--seed-file=${dir}/munged.seed`,
  ]);
  const port = randomPort();
  for (const d of ["state", "spool"]) await Deno.mkdir(`${dir}/${d}`);
  const conf = `${dir}/slurm.conf`;
  await Deno.writeTextFile(
    conf,
    [
      "ClusterName=segtest",
      `SlurmctldHost=${host}`,
      "SlurmUser=root",
      "SlurmdUser=root",
      "AuthType=auth/munge",
      "CredType=cred/munge",
      `AuthInfo=socket=${socket}`,
      `SlurmctldPort=${port}`,
      `SlurmdPort=${port + 1}`,
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "JobAcctGatherType=jobacct_gather/none",
      "AccountingStorageType=accounting_storage/none",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_Core",
      "MpiDefault=none",
      "ReturnToService=2",
      "SchedulerParameters=sched_interval=1",
      `StateSaveLocation=${dir}/state`,
      `SlurmdSpoolDir=${dir}/spool`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd.pid`,
      `SlurmctldLogFile=${dir}/slurmctld.log`,
      `SlurmdLogFile=${dir}/slurmd.log`,
      `NodeName=${host} CPUs=${cpus} RealMemory=4000 State=UNKNOWN`,
      "PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
      "",
    ].join("\n"),
  );
  const env = { SLURM_CONF: conf };
  const cluster: Slurm = {
    env,
    dir,
    async submitArray(script, args, opts) {
      const out = await run(
        "sbatch",
        [
          "--parsable",
          `--array=${opts.array}`,
          "--cpus-per-task=1",
          "--mem=1G",
          `--output=${opts.output}`,
          script,
          ...args,
        ],
        { ...env, ...opts.env },
      );
      return out.trim().split(";")[0];
    },
    async waitJob(id, seconds) {
      await waitFor(
        `job ${id}`,
        async () => (await run("squeue", ["-h", "-j", id], env)).trim() === "",
        seconds,
      );
    },
    async stop() {
      for (const name of ["slurmd", "slurmctld", "munged"]) {
        const pid = await readPid(`${dir}/${name}.pid`);
        if (pid === null) continue;
        try {
          Deno.kill(pid, "SIGTERM");
        } catch {
          continue; // already gone
        }
        await waitFor(`${name} to stop`, () => Promise.resolve(!isAlive(pid)), 10).catch(() =>
          Deno.kill(pid, "SIGKILL")
        );
      }
    },
  };
  try {
    await run("slurmctld", ["-f", conf], env);
    await run("slurmd", ["-f", conf], env);
    await waitFor(
      "the node to be idle",
      async () => /State=IDLE/.test(await run("scontrol", ["show", "node", host], env).catch(() => "")),
      30,
    );
  } catch (e) {
    await cluster.stop();
    const logs = await Promise.all(
      ["slurmctld.log", "slurmd.log"].map((f) => Deno.readTextFile(`${dir}/${f}`).catch(() => "")),
    );
    throw new Error(
      `${(e as Error).message}\n${logs.map((l) => l.split("\n").slice(-8).join("\n")).join("\n")}`,
    );
  }
  return cluster;
}

function isAlive(pid: number): boolean {
  try {
    return Deno.statSync(`/proc/${pid}`).isDirectory;
  } catch {
    return false;
  }
}
