/** The volumes module: NIfTI codecs, geometry and CPU preprocessing. Re-exports every submodule. */

export * from "./affine.ts";
export * from "./augment.ts";
export * from "./bbox.ts";
export * from "./body-mask.ts";
export * from "./components.ts";
export * from "./datatypes.ts";
export * from "./errors.ts";
export * from "./fill-holes.ts";
export * from "./grid.ts";
export * from "./gzip.ts";
export * from "./intensity.ts";
export * from "./labels.ts";
export * from "./morphology.ts";
export * from "./nifti-header.ts";
export * from "./nifti-read.ts";
export * from "./nifti-write.ts";
export * from "./orientation.ts";
export * from "./qform.ts";
export * from "./resample.ts";
export * from "./sample.ts";
export * from "./types.ts";
