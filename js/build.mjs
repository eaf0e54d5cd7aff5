// Bundle every js/src/entries/<name>.ts into labkit/static/<name>.js (ESM, minified).
//   node build.mjs          production build (used by `pip install` through hatch-jupyter-builder)
//   node build.mjs --dev    unminified with inline source maps
//   node build.mjs --tests  bundle js/test/*.test.ts into js/.test-out/ for `node --test`
import { build } from "esbuild";
import { readdirSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, basename } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = new Set(process.argv.slice(2));

function tsFiles(dir, suffix) {
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => join(dir, f));
}

if (args.has("--tests")) {
  const outdir = join(here, ".test-out");
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const tests = tsFiles(join(here, "test"), ".test.ts");
  await build({
    entryPoints: tests,
    outdir,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node18",
    outExtension: { ".js": ".mjs" },
    external: ["node:*"],
    logLevel: "warning",
  });
  console.log(`built ${tests.length} test file(s) into ${outdir}`);
} else {
  const dev = args.has("--dev");
  const outdir = join(here, "..", "labkit", "static");
  mkdirSync(outdir, { recursive: true });
  const entries = tsFiles(join(here, "src", "entries"), ".ts");
  if (entries.length === 0) throw new Error("no entries in js/src/entries");
  await build({
    entryPoints: Object.fromEntries(entries.map((f) => [basename(f, ".ts"), f])),
    outdir,
    bundle: true,
    format: "esm",
    target: "es2020",
    minify: !dev,
    sourcemap: dev ? "inline" : false,
    legalComments: "none",
    logLevel: "warning",
  });
  console.log(`built ${entries.map((f) => basename(f, ".ts")).join(", ")} into ${outdir}`);
}
