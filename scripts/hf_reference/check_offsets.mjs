#!/usr/bin/env node
// Replays shared/data/tokenizer_cases.jsonl (computed by Python HF, offsets in code points)
// through the Node binding to establish which offset unit getOffsets() uses, and that the
// binding is token-for-token identical to Python HF 0.22 for bert-base-uncased.
//
//   node check_offsets.mjs [--work DIR] [--cases FILE]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_TOKENIZER, SHARED, encodingToJson, loadHF, parseArgs } from './hf_common.mjs';

const args = parseArgs(process.argv.slice(2));
const { Tokenizer } = loadHF(args.work);
const casesPath = args.cases || join(SHARED, 'data', 'tokenizer_cases.jsonl');
const cases = readFileSync(casesPath, 'utf8').split('\n').filter(l => l.trim()).map(l => JSON.parse(l));

const tok = Tokenizer.fromFile(BASE_TOKENIZER);
tok.setTruncation(512);
tok.disablePadding();

// Candidate offset units, each as a code point offset -> unit offset mapping of the text.
const enc8 = new TextEncoder();
const toUnit = {
  codepoint: (t, cp) => cp,
  utf16: (t, cp) => [...t].slice(0, cp).join('').length,
  utf8: (t, cp) => enc8.encode([...t].slice(0, cp).join('')).length,
};

let bad = 0, nonAscii = 0;
const unitMatches = { codepoint: 0, utf16: 0, utf8: 0 };
for (const c of cases) {
  const got = encodingToJson(await tok.encode(c.text, c.text_pair ?? null, { addSpecialTokens: true }));
  for (const k of ['ids', 'type_ids', 'tokens']) {
    if (JSON.stringify(got[k]) !== JSON.stringify(c[k])) { bad++; console.log(`MISMATCH ${k}: ${JSON.stringify(c.text)}`); }
  }
  if (/[^\x00-\x7f]/.test(c.text)) nonAscii++;
  for (const [unit, f] of Object.entries(toUnit)) {
    const want = c.offsets.map(([s, e]) => [f(c.text, s), f(c.text, e)]);
    if (JSON.stringify(want) === JSON.stringify(got.offsets)) unitMatches[unit]++;
  }
}
console.log(`${cases.length} cases (${nonAscii} with non-ASCII text); ids/type_ids/tokens mismatches: ${bad}`);
console.log(`offset arrays equal to Python's when interpreted as: ${JSON.stringify(unitMatches)}`);
const ok = bad === 0 && unitMatches.codepoint === cases.length;
console.log(ok ? 'OK: Node getOffsets() returns Unicode code point offsets, identical to Python HF.' : 'FAILED');
process.exit(ok ? 0 : 1);
