#!/usr/bin/env node
// Exhaustive per-code-point behaviour of HF `tokenizers` 0.22 components, for C++ tests
// that must agree with HF on every code point (U+0000..U+10FFFF minus surrogates, which a
// JS -> Rust string cannot carry).
//
//   node gen_unicode_truth.mjs [--work DIR] [--out tests/data/hf/unicode_truth.json]
//
// Output layout (compact JSON; see "format" inside the file):
//   normalizers.<name> = { map: {"<hex>": "<output>"}, removed: [[s,e],...], padded: [[s,e],...] }
//     map     – code points whose output is neither identity, "" nor " c " (explicit output)
//     removed – ranges (inclusive) whose output is the empty string
//     padded  – ranges whose output is " " + c + " " (handle_chinese_chars)
//   Anything not listed maps to itself. Runs are stored as ranges instead of map entries
//   because clean_text deletes ~970k unassigned/private-use code points and
//   handle_chinese_chars pads ~98k ideographs; as maps they would be tens of MB.
//   pre_tokenizers.<name>.<class> = [[s,e],...] inclusive ranges.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { REPO, loadHF, parseArgs } from './hf_common.mjs';

const args = parseArgs(process.argv.slice(2));
const hf = loadHF(args.work);
const outPath = resolve(args.out || join(REPO, 'tests', 'data', 'hf', 'unicode_truth.json'));

const ALL = [];
for (let c = 0; c <= 0x10ffff; c++) if (c < 0xd800 || c > 0xdfff) ALL.push(c);
const hex = c => c.toString(16).toUpperCase().padStart(4, '0');
const isHangulSyllable = c => c >= 0xac00 && c <= 0xd7a3;

// Collapse a sorted list of code points into inclusive [start, end] ranges.
function toRanges(cps) {
  const r = [];
  for (const c of cps) {
    const last = r[r.length - 1];
    if (last && last[1] === c - 1) last[1] = c; else r.push([c, c]);
  }
  return r;
}

// "|" is a starter that no normalizer alters and nothing composes with, so it keeps
// neighbouring code points from interacting (canonical reordering, composition). A code
// point whose own output contains "|" (e.g. NFKC of U+FF5C) shows up as a wrong piece
// count, and that batch is then redone one code point per call.
const DELIM = '|';
const BATCH = 4096;
let fallbacks = 0;
function normalizeAll(norm) {
  if (norm.normalizeString(DELIM) !== DELIM) throw new Error('delimiter is not preserved');
  const out = new Array(ALL.length);
  for (let i = 0; i < ALL.length; i += BATCH) {
    const cps = ALL.slice(i, i + BATCH);
    const pieces = norm.normalizeString(cps.map(c => String.fromCodePoint(c)).join(DELIM)).split(DELIM);
    if (pieces.length === cps.length) { for (let j = 0; j < cps.length; j++) out[i + j] = pieces[j]; continue; }
    fallbacks++;
    for (let j = 0; j < cps.length; j++) out[i + j] = norm.normalizeString(String.fromCodePoint(cps[j]));
  }
  return out;
}

function classify(outputs, { skipHangul = false } = {}) {
  const map = new Map(), removed = [], padded = [];
  let hangulChecked = 0, hangulDiffer = 0;
  for (let i = 0; i < ALL.length; i++) {
    const c = ALL[i], ch = String.fromCodePoint(c), o = outputs[i];
    if (o === ch) continue;
    if (skipHangul && isHangulSyllable(c)) {
      // Hangul syllables decompose algorithmically (Unicode ch. 3.12); check rather than store.
      hangulChecked++;
      if (o !== ch.normalize('NFD')) hangulDiffer++;
      continue;
    }
    if (o === '') removed.push(c);
    else if (o === ' ' + ch + ' ') padded.push(c);
    else map.set(hex(c), o);
  }
  const res = { map, removed: toRanges(removed), padded: toRanges(padded) };
  const counts = { map: map.size, removed: removed.length, padded: padded.length };
  if (skipHangul) counts.hangul_syllables_omitted = hangulChecked, counts.hangul_not_equal_to_js_nfd = hangulDiffer;
  return [res, counts];
}

const bert = opts => hf.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false, ...opts });
const NORMALIZERS = [
  ['bert_clean_text', bert({ cleanText: true }), false],
  // strip_accents runs NFD first, so Hangul syllables decompose here too.
  ['bert_strip_accents', bert({ stripAccents: true }), true],
  ['bert_lowercase', bert({ lowercase: true }), false],
  ['bert_handle_chinese_chars', bert({ handleChineseChars: true }), false],
  ['lowercase', hf.lowercase(), false],
  ['nfd', hf.nfdNormalizer(), true],
  ['nfkd', hf.nfkdNormalizer(), true],
  ['nfc', hf.nfcNormalizer(), false],
  ['nfkc', hf.nfkcNormalizer(), false],
  ['strip_accents', hf.stripAccentsNormalizer(), false],
];

const normalizers = {}, counts = {};
for (const [name, norm, skipHangul] of NORMALIZERS) {
  const t0 = Date.now();
  const [res, cnt] = classify(normalizeAll(norm), { skipHangul });
  normalizers[name] = res; counts[name] = cnt;
  console.error(`${name}: ${JSON.stringify(cnt)} (${Date.now() - t0} ms)`);
}

// Pre-tokenizers: each code point c is probed as "a" + c + "a", probes separated by " ".
// From the pieces' code point offsets: c not covered by any piece -> removed as whitespace;
// c alone in a piece -> isolated (punctuation / [^\w\s]); c inside "aca" -> word character.
function probePreTokenizer(pt) {
  const cls = { removed: [], isolated: [], joined: [] };
  for (let i = 0; i < ALL.length; i += BATCH) {
    const cps = ALL.slice(i, i + BATCH);
    const text = cps.map(c => 'a' + String.fromCodePoint(c) + 'a').join(' ');
    const cover = new Map(); // code point index -> [start, end] of its piece
    for (const [, [s, e]] of pt.preTokenizeString(text)) for (let p = s; p < e; p++) cover.set(p, [s, e]);
    cps.forEach((c, j) => {
      const p = 4 * j + 1; // "a c a " = 4 code points per probe
      if (!cover.has(p - 1) || !cover.has(p + 1)) throw new Error(`probe letters of U+${hex(c)} not covered`);
      const piece = cover.get(p);
      if (!piece) cls.removed.push(c);
      else if (piece[0] === p && piece[1] === p + 1) cls.isolated.push(c);
      else if (piece[0] <= p - 1 && piece[1] >= p + 2) cls.joined.push(c); // Punctuation keeps spaces in pieces
      else throw new Error(`unexpected piece ${piece} for U+${hex(c)}`);
    });
  }
  return cls;
}

const bertPT = probePreTokenizer(hf.bertPreTokenizer());
const wsPT = probePreTokenizer(hf.whitespacePreTokenizer());
const punctPT = probePreTokenizer(hf.punctuationPreTokenizer('isolated'));
const wsSplitPT = probePreTokenizer(hf.whitespaceSplitPreTokenizer());
if (punctPT.removed.length) throw new Error('Punctuation pre-tokenizer removed something');
if (wsSplitPT.isolated.length) throw new Error('WhitespaceSplit isolated something');
const preTokenizers = {
  bert: { punctuation: toRanges(bertPT.isolated), whitespace: toRanges(bertPT.removed) },
  whitespace: { word: toRanges(wsPT.joined), space: toRanges(wsPT.removed), other: toRanges(wsPT.isolated) },
  punctuation: { punctuation: toRanges(punctPT.isolated) },
  whitespace_split: { whitespace: toRanges(wsSplitPT.removed) },
};
for (const [k, v] of Object.entries({ bert_punct: bertPT.isolated, bert_ws: bertPT.removed, ws_word: wsPT.joined, ws_space: wsPT.removed, ws_other: wsPT.isolated, punct: punctPT.isolated, wssplit_ws: wsSplitPT.removed }))
  counts[`pre_tokenizer_${k}`] = v.length;
console.error(`batches redone per code point (delimiter in output): ${fallbacks}`);

const truth = {
  generator: 'scripts/hf_reference/gen_unicode_truth.mjs',
  reference: 'HF tokenizers 0.22 via @anush008/tokenizers 0.6.0 (Node binding)',
  domain: 'U+0000..U+10FFFF except surrogates U+D800..U+DFFF',
  format: {
    normalizers: 'per component: output(c) = map[hex(c)] if present; "" if c in a removed range; " "+c+" " if c in a padded range; else c itself. Ranges are inclusive [start,end]. Keys are uppercase hex without prefix, at least 4 digits. Each code point was normalized in isolation.',
    pre_tokenizers: 'inclusive [start,end] code point ranges. bert.punctuation: isolated by BertPreTokenizer; bert.whitespace: removed by it (split points). whitespace.word: \\w of the Whitespace pre-tokenizer regex \\w+|[^\\w\\s]+; whitespace.space: \\s (dropped); whitespace.other: everything else ([^\\w\\s]). punctuation.punctuation: isolated by Punctuation pre-tokenizer. whitespace_split.whitespace: split points of WhitespaceSplit.',
    components: {
      bert_clean_text: 'bertNormalizer({cleanText:true, handleChineseChars:false, stripAccents:false, lowercase:false})',
      bert_strip_accents: 'bertNormalizer({stripAccents:true, others false})',
      bert_lowercase: 'bertNormalizer({lowercase:true, others false})',
      bert_handle_chinese_chars: 'bertNormalizer({handleChineseChars:true, others false})',
      lowercase: 'Lowercase', nfd: 'NFD', nfkd: 'NFKD', nfc: 'NFC', nfkc: 'NFKC', strip_accents: 'StripAccents',
    },
  },
  notes: [
    'Hangul syllables U+AC00..U+D7A3 are left out of nfd, nfkd and bert_strip_accents (which runs NFD): HF decomposes them algorithmically into conjoining jamo, exactly as JavaScript String.prototype.normalize("NFD") does (checked for all 11,172; see counts).',
    'counts.* give the number of code points in each class, for sanity checks.',
  ],
  counts,
  normalizers,
  pre_tokenizers: preTokenizers,
};
mkdirSync(dirname(outPath), { recursive: true });
// JS objects list integer-like keys ("2000") before others ("00C0"), so the maps are Maps
// and are written in insertion order, i.e. sorted by code point.
function toJson(v) {
  const obj = entries => '{' + entries.map(([k, x]) => JSON.stringify(k) + ':' + toJson(x)).join(',') + '}';
  if (v instanceof Map) return obj([...v]);
  if (Array.isArray(v)) return '[' + v.map(toJson).join(',') + ']';
  if (v && typeof v === 'object') return obj(Object.entries(v));
  return JSON.stringify(v);
}
const json = toJson(truth);
writeFileSync(outPath, json + '\n');
console.error(`wrote ${outPath} (${(Buffer.byteLength(json) / 1e6).toFixed(2)} MB)`);
