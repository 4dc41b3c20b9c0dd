#!/usr/bin/env node
// Single-threaded throughput of HF `tokenizers` 0.22 (Rust, via the Node binding), the
// baseline encore's tokenizer is compared with.
//
//   RAYON_NUM_THREADS=1 node bench_hf.mjs [--work DIR] [--tokenizer tokenizer.json]
//       [--data clinc150/test.jsonl] [--reps 7] [--docs 10] [--doc-bytes 50000] [--json FILE]
//
// Workloads: (a) every text of clinc150/test.jsonl; (b) "long documents": those texts in file
// order joined with single spaces, a document being closed as soon as it reaches
// --doc-bytes UTF-8 bytes; only complete documents are kept, at most --docs of them.
// Each workload is timed as one encodeBatch call and as a loop of awaited encode calls,
// after one warm-up run, --reps times; the median is reported.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { BASE_TOKENIZER, SHARED, loadHF, parseArgs } from './hf_common.mjs';

// Rayon sizes its global pool from the environment when the pool is first used, and
// encodeBatch parallelises over inputs; re-run ourselves with one thread unless the caller
// chose a value, so that numbers are single-threaded by default.
if (process.env.RAYON_NUM_THREADS === undefined) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, RAYON_NUM_THREADS: '1' } });
  process.exit(r.status ?? 1);
}

const args = parseArgs(process.argv.slice(2));
const { Tokenizer } = loadHF(args.work);
const tokPath = args.tokenizer || BASE_TOKENIZER;
const dataPath = args.data || join(SHARED, 'data', 'clinc150', 'test.jsonl');
const reps = Number(args.reps || 7);
const maxDocs = Number(args.docs || 10);
const docBytes = Number(args['doc-bytes'] || 50000);

const tok = Tokenizer.fromFile(tokPath);
tok.disableTruncation();
tok.disablePadding();

const texts = readFileSync(dataPath, 'utf8').split('\n').filter(l => l.trim()).map(l => JSON.parse(l).text);
const docs = [];
let cur = [], curBytes = 0;
for (const t of texts) {
  curBytes += (cur.length ? 1 : 0) + Buffer.byteLength(t);
  cur.push(t);
  if (curBytes >= docBytes) { docs.push(cur.join(' ')); cur = []; curBytes = 0; }
  if (docs.length === maxDocs) break;
}
if (docs.length < maxDocs)
  console.error(`note: ${dataPath} yields only ${docs.length} complete documents of >= ${docBytes} bytes (asked for ${maxDocs})`);

const median = xs => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

async function runBatch(inputs) {
  const encs = await tok.encodeBatch(inputs, { addSpecialTokens: true });
  let n = 0;
  for (const e of encs) n += e.getIds().length;
  return n;
}
async function runLoop(inputs) {
  let n = 0;
  for (const t of inputs) n += (await tok.encode(t, null, { addSpecialTokens: true })).getIds().length;
  return n;
}

// Timing includes fetching the ids back into JS (getIds), as any consumer must.
async function bench(name, inputs, mode) {
  const fn = mode === 'encodeBatch' ? runBatch : runLoop;
  const tokens = await fn(inputs); // warm-up
  const times = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const n = await fn(inputs);
    times.push((performance.now() - t0) / 1000);
    if (n !== tokens) throw new Error('token count changed between runs');
  }
  const bytes = inputs.reduce((a, t) => a + Buffer.byteLength(t), 0);
  const s = median(times);
  const r = {
    workload: name, mode, texts: inputs.length, bytes, tokens, reps, median_s: s,
    min_s: Math.min(...times), texts_per_s: inputs.length / s, tokens_per_s: tokens / s, mb_per_s: bytes / s / 1e6,
  };
  console.log(`${name.padEnd(14)} ${mode.padEnd(11)} texts=${String(inputs.length).padStart(5)} tokens=${String(tokens).padStart(7)} ` +
    `median=${(s * 1000).toFixed(2).padStart(8)} ms  ${r.texts_per_s.toFixed(0).padStart(8)} texts/s  ` +
    `${(r.tokens_per_s / 1e6).toFixed(3)} Mtok/s  ${r.mb_per_s.toFixed(2)} MB/s`);
  return r;
}

const results = [];
for (const [name, inputs] of [['clinc150_test', texts], ['long_docs', docs]])
  for (const mode of ['encodeBatch', 'encode_loop']) results.push(await bench(name, inputs, mode));

if (args.json) {
  const out = {
    reference: 'HF tokenizers 0.22 via @anush008/tokenizers 0.6.0 (Node binding)',
    tokenizer: tokPath, data: dataPath, rayon_num_threads: process.env.RAYON_NUM_THREADS,
    node: process.version, cpu: cpus()[0]?.model, n_cpus: cpus().length, date: new Date().toISOString(),
    long_docs: { requested: maxDocs, built: docs.length, doc_bytes: docBytes },
    results,
  };
  writeFileSync(args.json, JSON.stringify(out, null, 2) + '\n');
}
