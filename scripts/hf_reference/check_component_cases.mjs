#!/usr/bin/env node
// Replays tests/data/hf/component_cases.jsonl through HF exactly as a consumer would read
// it (base tokenizer.json + overrides, the case's truncation, padding off) and reports any
// difference. Guards the file format as documented in README.md, independently of how
// gen_component_cases.mjs builds its configs.
//
//   node check_component_cases.mjs [--work DIR] [--cases FILE]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_TOKENIZER, REPO, applyOverrides, configureTruncation, encodeCase, loadHF, parseArgs } from './hf_common.mjs';

const args = parseArgs(process.argv.slice(2));
const { Tokenizer } = loadHF(args.work);
const file = args.cases || join(REPO, 'tests', 'data', 'hf', 'component_cases.jsonl');
const BASE = JSON.parse(readFileSync(BASE_TOKENIZER, 'utf8'));
const FORBIDDEN = new Set(['truncation', 'padding']);

const cache = new Map(); // overrides JSON -> tokenizer, so identical variants load once
let n = 0, bad = 0;
for (const line of readFileSync(file, 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const c = JSON.parse(line);
  n++;
  if (c.base !== 'bert-base-uncased') throw new Error(`${c.name}: unknown base ${c.base}`);
  for (const k of Object.keys(c.overrides)) if (FORBIDDEN.has(k)) throw new Error(`${c.name}: override of ${k}`);
  const key = JSON.stringify(c.overrides);
  if (!cache.has(key)) {
    const t = Tokenizer.fromString(JSON.stringify(applyOverrides(BASE, c.overrides)));
    t.disablePadding();
    cache.set(key, t);
  }
  const tok = cache.get(key);
  let got, want;
  if (c.kind === 'decode') {
    got = await tok.decode(c.ids, c.skip_special_tokens);
    want = c.expected_text;
  } else {
    configureTruncation(tok, c.truncation);
    got = await encodeCase(tok, c.text, c.pair, c.add_special_tokens);
    want = c.expected ? { expected: c.expected } : { expected_error: c.expected_error };
  }
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    bad++;
    if (bad <= 10) console.log(`MISMATCH ${c.name}\n  want ${JSON.stringify(want)}\n  got  ${JSON.stringify(got)}`);
  }
}
console.log(`${n - bad} passed, ${bad} failed`);
process.exit(bad ? 1 : 0);
