import { readFileSync } from 'node:fs';
import { EngineProcess } from './support/engine-raw';
import { writeSyntheticCheckpoint } from '../src/model/synthetic';
(async () => {
  await writeSyntheticCheckpoint('/tmp/i14/fz/model', { preset: 'tiny', seed: 3, architecture: 'Qwen2ForCausalLM' });
  const e = new EngineProcess('dist/engine.js', {});
  const lines = readFileSync('/tmp/i14/msgs.txt', 'utf8').trim().split('\n').map((l) => JSON.parse(l.replace(/\/tmp\/lens-fuzz-\w+\//g, '/tmp/i14/fz/')));
  for (const m of lines) void e.send(m).then((r) => { if (r.id === 12 || !r.result && !r.error) console.log('reply', JSON.stringify(r).slice(0, 300)); }, () => undefined);
  await new Promise((r) => setTimeout(r, 6000));
  console.log('replies for 12:', e.repliesFor(12));
  console.log('stderr', e.stderr.slice(0, 3000));
  await e.close();
})();
