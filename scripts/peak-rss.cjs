// Preloaded (node --require) by `npm run bench` into a CLI process it measures: at exit, writes the
// process's peak resident set size (getrusage maxrss) to the file named by BENCH_PEAK_RSS_FILE.
// A preload rather than the CLI's own code, so the product carries no benchmark hooks; a node
// flag rather than `tsx`, so the measured process is exactly the shipped bundle.
const { writeFileSync } = require('node:fs');
process.on('exit', () => {
  if (process.env.BENCH_PEAK_RSS_FILE) writeFileSync(process.env.BENCH_PEAK_RSS_FILE, String(process.resourceUsage().maxRSS * 1024));
});
