// Shared helpers for the HF reference generators: locating the Node binding of HF
// `tokenizers`, building tokenizer variants from base + overrides, and encoding with a
// result layout identical to the expectation files.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '..', '..');
// ../shared relative to the project root, as the shared README asks; /work/shared fallback.
export const SHARED = existsSync(resolve(REPO, '..', 'shared')) ? resolve(REPO, '..', 'shared') : '/work/shared';
export const BASE_TOKENIZER = join(SHARED, 'vocab', 'bert-base-uncased', 'tokenizer.json');

// Parse `--flag value` pairs; positional arguments are collected under `_`.
export function parseArgs(argv, defaults = {}) {
  const out = { ...defaults, _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const k = a.slice(2);
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) out[k] = true;
      else { out[k] = next; i++; }
    } else out._.push(a);
  }
  return out;
}

// The binding is a native addon installed outside the repo (see README); the work dir
// comes from --work, then HF_REF_WORK, then this folder (if `npm install` was run here),
// then /tmp/peers (where the peers' setup puts it).
export function loadHF(work) {
  const installed = d => existsSync(join(d, 'node_modules', '@anush008', 'tokenizers', 'package.json'));
  const dir = resolve(work || process.env.HF_REF_WORK || (installed(HERE) ? HERE : '/tmp/peers'));
  const pkg = join(dir, 'node_modules', '@anush008', 'tokenizers', 'package.json');
  if (!existsSync(pkg)) {
    console.error(`@anush008/tokenizers is not installed under ${dir}/node_modules.\n` +
      `Install it with: mkdir -p ${dir} && cd ${dir} && npm install --ignore-scripts @anush008/tokenizers@0.6.0`);
    process.exit(1);
  }
  const version = JSON.parse(readFileSync(pkg, 'utf8')).version;
  if (version !== '0.6.0') console.error(`warning: @anush008/tokenizers ${version} found, expected 0.6.0 (HF tokenizers 0.22)`);
  // createRequire needs a file path inside the work dir; package.json may not exist there.
  return createRequire(join(dir, 'package.json'))('@anush008/tokenizers');
}

// Overrides replace top-level keys wholesale, except `model`, whose fields are merged so
// that a case can change e.g. unk_token without repeating the 30k-entry vocab.
export function applyOverrides(base, overrides) {
  const t = structuredClone(base);
  for (const [k, v] of Object.entries(overrides || {})) {
    if (k === 'model') t.model = { ...t.model, ...v };
    else t[k] = v;
  }
  return t;
}

const STRATEGY = { longest_first: 'LongestFirst', only_first: 'OnlyFirst', only_second: 'OnlySecond' };

export function configureTruncation(tok, truncation) {
  if (!truncation) { tok.disableTruncation(); return; }
  tok.setTruncation(truncation.max_length, {
    strategy: STRATEGY[truncation.strategy ?? 'longest_first'],
    direction: truncation.direction ?? 'right',
  });
}

// The binding calls Rust's encode_char_offsets, so getOffsets() is already in Unicode
// code points (Rust chars), the same unit as Python HF (verified by check_offsets.mjs on
// shared/data/tokenizer_cases.jsonl, which includes astral-plane emoji). No conversion is
// needed; this function is the single place to add one if the binding ever changes.
export function encodingToJson(enc) {
  return {
    ids: enc.getIds(),
    type_ids: enc.getTypeIds(),
    tokens: enc.getTokens(),
    offsets: enc.getOffsets().map(([s, e]) => [s, e]),
    special_tokens_mask: enc.getSpecialTokensMask(),
  };
}

// Returns {expected} or {expected_error}; HF errors surface as rejected promises.
export async function encodeCase(tok, text, pair, addSpecialTokens) {
  try {
    const enc = await tok.encode(text, pair ?? null, { addSpecialTokens });
    return { expected: encodingToJson(enc) };
  } catch (e) {
    return { expected_error: String(e && e.message !== undefined ? e.message : e) };
  }
}
