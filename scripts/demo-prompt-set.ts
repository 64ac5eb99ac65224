// node --import tsx scripts/demo-prompt-set.ts > held-out.jsonl
// The demo pair's 120 held-out prompts as an `instruction-lens evaluate` prompt set
// (src/evaluate/demo-prompt-set.ts); with --max-new-tokens 12 evaluate reproduces the card's Table 2.
import { demoPromptSetLines } from '../src/evaluate/demo-prompt-set.js';

process.stdout.write(demoPromptSetLines().join('\n') + '\n');
