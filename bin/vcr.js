#!/usr/bin/env node
// Entry point: runs the compiled CLI (built by `npm ci` through `prepare`).
import { main } from '../dist/src/cli/main.js';
main(process.argv).catch((err) => {
  process.stderr.write(`vcr: ${err && err.message ? err.message : String(err)}\n`);
  process.exit(1);
});
