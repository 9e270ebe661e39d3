/**
 * Which CTs a batch run segments: files, folders and manifests, turned into a list of cases with
 * unique names. A folder contributes every NIfTI file under it (label maps and our own outputs
 * excepted) and every sub-folder that holds a scan series (see {@link DiscoverOptions.isSeries}, the
 * place where DICOM series plug in as one case each). A manifest is a text file with one path per
 * line (`#` comments) or a CSV file with a `path` column (and optionally `name`); its relative paths
 * are relative to the manifest's folder.
 */
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { CsvError, parseCsv } from "../util/csv.ts";
import { VolumeError } from "../volume/errors.ts";
import { FileReadError, isDirectory, listDir, readTextFile } from "./fs.ts";

/** One CT of a batch. */
export interface InputCase {
  /** Unique among the batch's cases; names the outputs (`NAME.seg.nii.gz`) and picks the shard. */
  name: string;
  /** The file (or series folder) to read. */
  path: string;
  /** `nifti` for a file; `series` for a folder that `isSeries` recognised. */
  kind: "nifti" | "series";
}

/** Options of {@link discoverCases}. */
export interface DiscoverOptions {
  /** A manifest (.txt, one path per line, or .csv with a `path` column) adding its cases. */
  manifest?: string;
  /**
   * Whether a folder is one scan series (one case) rather than a folder of cases; none is by default.
   * A DICOM reader passes its series test here.
   */
  isSeries?: (dir: string) => Promise<boolean>;
}

const NIFTI = /\.nii(\.gz)?$/i;
/** NIfTI files in a folder that are not CTs: training label maps and segmentations we wrote. */
const NOT_CT = /\.(labels|seg)\.nii(\.gz)?$/i;

/** A path with its NIfTI suffix removed. */
function withoutSuffix(path: string): string {
  return path.replace(NIFTI, "");
}

/** Cases under a folder: NIfTI files and series folders, depth first, sorted by name. */
async function walkFolder(
  root: string,
  dir: string,
  isSeries: (dir: string) => Promise<boolean>,
  out: { path: string; hint: string; kind: InputCase["kind"] }[],
): Promise<void> {
  let entries;
  try {
    entries = await listDir(dir);
  } catch (e) {
    if (!(e instanceof FileReadError)) throw e;
    throw new VolumeError(dir, e.code === "not-found" ? "not-found" : "read", e.problem, { cause: e });
  }
  for (const e of entries) {
    if (e.name.startsWith(".")) continue; // hidden: temporary files, caches
    const path = join(dir, e.name);
    if (e.isDirectory) {
      if (await isSeries(path)) out.push({ path, hint: caseName(path, root), kind: "series" });
      else await walkFolder(root, path, isSeries, out);
    } else if (NIFTI.test(e.name) && !NOT_CT.test(e.name)) {
      out.push({ path, hint: caseName(path, root), kind: "nifti" });
    }
  }
}

/** The entries of a manifest: paths (resolved against its folder) and optional names. */
export async function readManifest(manifest: string): Promise<{ path: string; name?: string }[]> {
  let text: string;
  try {
    text = await readTextFile(manifest);
  } catch (e) {
    if (!(e instanceof FileReadError)) throw e;
    throw new VolumeError(manifest, e.code === "not-found" ? "not-found" : "read", e.problem, { cause: e });
  }
  const base = dirname(manifest);
  const at = (p: string) => (isAbsolute(p) ? p : join(base, p));
  if (!/\.csv$/i.test(manifest)) {
    return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#")).map((p) => ({
      path: at(p),
    }));
  }
  let rows: string[][];
  try {
    rows = parseCsv(text);
  } catch (e) {
    if (!(e instanceof CsvError)) throw e;
    throw new VolumeError(manifest, "dataset", e.message);
  }
  const header = (rows.shift() ?? []).map((h) => h.trim().toLowerCase());
  const col = header.indexOf("path"), nameCol = header.indexOf("name");
  if (col < 0) {
    throw new VolumeError(
      manifest,
      "dataset",
      `no "path" column in the header (${header.join(", ") || "empty"})`,
    );
  }
  return rows.map((r, i) => {
    const path = (r[col] ?? "").trim();
    if (!path) throw new VolumeError(manifest, "dataset", `row ${i + 2}: the path is empty`);
    const name = nameCol >= 0 ? (r[nameCol] ?? "").trim() : "";
    return name ? { path: at(path), name } : { path: at(path) };
  });
}

/**
 * A case's name from its path alone, never from the other cases, so that it stays the same when the
 * archive grows (it names the output and picks the shard): the path relative to the folder it was
 * found in (or the manifest's folder), else its last component; without the NIfTI suffix.
 */
export function caseName(path: string, root?: string): string {
  const rel = root === undefined ? "" : relative(root, path);
  const name = rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : basename(path.replace(/\/+$/, ""));
  return withoutSuffix(name);
}

/**
 * The cases of a batch: each input is a file (one case), a series folder (one case) or a folder of
 * cases; the manifest's entries follow. The same file given twice counts once. Names come from the
 * manifest's `name` column, else from {@link caseName}; two cases with one name are a VolumeError (a
 * manifest with a `name` column settles it).
 * A path that does not exist is still a case (its read fails, and the batch reports it).
 */
export async function discoverCases(
  inputs: readonly string[],
  opts: DiscoverOptions = {},
): Promise<InputCase[]> {
  const isSeries = opts.isSeries ?? (() => Promise.resolve(false));
  const found: { path: string; hint: string; kind: InputCase["kind"]; name?: string }[] = [];
  const entries: { path: string; name?: string; root?: string }[] = inputs.map((path) => ({ path }));
  if (opts.manifest) {
    const root = dirname(opts.manifest);
    entries.push(...(await readManifest(opts.manifest)).map((e) => ({ ...e, root })));
  }
  for (const { path, name, root } of entries) {
    if (await isDirectory(path)) {
      if (await isSeries(path)) found.push({ path, hint: caseName(path, root), kind: "series", name });
      else {
        const before = found.length;
        await walkFolder(path, path, isSeries, found);
        if (found.length === before) {
          throw new VolumeError(
            path,
            "dataset",
            "no CT in this folder (expected .nii or .nii.gz files, or folders of DICOM series)",
          );
        }
      }
    } else found.push({ path, hint: caseName(path, root), kind: "nifti", name });
  }
  const seen = new Set<string>();
  const unique = found.filter((c) => {
    const key = resolve(c.path);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const cases = unique.map((c) => ({ name: c.name ?? c.hint, path: c.path, kind: c.kind }));
  const byName = new Map<string, string>();
  for (const c of cases) {
    if (
      c.name.split("/").some((part) => part === "" || part === "." || part === "..") || c.name.includes("\\")
    ) {
      throw new VolumeError(
        c.path,
        "dataset",
        `the case name "${c.name}" is not a relative path (it names the outputs)`,
      );
    }
    const other = byName.get(c.name);
    if (other !== undefined) {
      throw new VolumeError(
        c.path,
        "dataset",
        `two cases are named "${c.name}" (the other: ${other}); a manifest with a "name" column can name them`,
      );
    }
    byName.set(c.name, c.path);
  }
  return cases;
}
