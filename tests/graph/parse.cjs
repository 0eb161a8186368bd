// Mermaid's own parser (the npm package `mermaid`, which GitHub's renderer
// is built on) over slipway's graphs: prints each file it refuses with
// Mermaid's message, exits 1 if it refused any. `mermaid.parse` needs a DOM
// only for DOMPurify, which mermaid sets up when it loads; jsdom provides
// one, so no browser is needed.
// Usage: NODE_PATH=<node_modules with mermaid and jsdom> node tests/graph/parse.cjs FILE.mmd...
const { readFileSync } = require("node:fs");
const { pathToFileURL } = require("node:url");
const { JSDOM } = require("jsdom");

const { window } = new JSDOM("");
globalThis.window = window;
globalThis.document = window.document;

async function main() {
  // An ES module: found through NODE_PATH by require.resolve, then imported.
  const { default: mermaid } = await import(pathToFileURL(require.resolve("mermaid")).href);
  let parsed = 0;
  let refused = 0;
  for (const path of process.argv.slice(2)) {
    try {
      const result = await mermaid.parse(readFileSync(path, "utf8"));
      if (result.diagramType !== "flowchart-v2") {
        throw new Error(`a ${result.diagramType}, not a flowchart`);
      }
      parsed += 1;
    } catch (error) {
      console.log(`${path}: ${error.message}`);
      refused += 1;
    }
  }
  console.log(`mermaid: ${parsed} parsed, ${refused} refused`);
  process.exit(refused || parsed === 0 ? 1 : 0);
}

main();
