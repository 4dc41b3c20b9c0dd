#!/usr/bin/env node
// Expected outputs of HF `tokenizers` 0.22 for many variants of the bert-base-uncased
// tokenizer, one component or option changed at a time, so that encore's C++ tokenizer
// can be checked token for token (ids, type ids, tokens, code point offsets, special
// tokens mask) and on decoding.
//
//   node gen_component_cases.mjs [--work DIR] [--out tests/data/hf/component_cases.jsonl]
//
// Every line is self-contained: the tokenizer is shared/vocab/bert-base-uncased/tokenizer.json
// with each top-level key of "overrides" replacing that key wholesale, except "model",
// whose fields are merged into the base model (see README.md for the full format).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  BASE_TOKENIZER, REPO, applyOverrides, configureTruncation, encodeCase, loadHF, parseArgs,
} from './hf_common.mjs';

const args = parseArgs(process.argv.slice(2));
const { Tokenizer } = loadHF(args.work);
const outPath = resolve(args.out || join(REPO, 'tests', 'data', 'hf', 'component_cases.jsonl'));
const BASE = JSON.parse(readFileSync(BASE_TOKENIZER, 'utf8'));
const VOCAB = BASE.model.vocab;
const BASE_NAME = 'bert-base-uncased';

// ---------------------------------------------------------------------------------------
// Texts. Grouped by what they exercise; configs pick the groups relevant to them.

const LONG_WORD_100 = 'abc'.repeat(33) + 'd';            // exactly 100 chars: the default limit
const LONG_WORD_101 = 'abc'.repeat(33) + 'de';           // 101 chars: one over -> [UNK]

// Broad coverage, run through the unmodified tokenizer.
const UNICODE_EDGE = [
  '', ' ', '   ', '\t\n \r\n ', 'Hello, World!', 'HeLLo WoRLD', "don't stop-believing...",
  '\u0000', 'a\u0000b c\u0001d', '\ufffd', 'bad\ufffdchar', '\u0007bell \u001b[0m esc \u007f del \u0085nel',
  'zero\u200bwidth\u200djoiner\u200cnon \ufeffbom \u2060wj', 'soft\u00adhyphen', '\u200d',
  'café', 'cafe\u0301', 'Crème Brûlée à la mode', 'Tiếng Việt có dấu', 'naïve NAÏVE',
  'İstanbul İ i\u0307 ı I', 'ǅungla ǈ ǋ Ǆ', 'ΣΊΣΥΦΟΣ ΌΣΟΣ Σ σς', 'ᾼ ᾳ ῼ ΐ', 'straße STRASSE ß ẞ',
  'ﬁne ﬂour ﬀ ﬃ ﬆ', 'x² + y³ = z¹ ⁴ ₂ H₂O', '①②③ ⑴ ⒈ Ⓐⓐ', 'Ⅻ ⅻ ㎏ ㍿ ℃ ℉ № ™',
  'ＦＵＬＬｗｉｄｔｈ　ＡＢＣ！？１２３', 'Å Ω K Å', 'ǰ ŉ ΐ', 'ℌ𝔢𝔩𝔩𝔬 𝐁𝐨𝐥𝐝 𝟙𝟚𝟛',
  '中文字符测试，你好。', '中文abc字符def', '𠀀𠀁𪜀 ext B 𰀀 ext G \u{2B820}\u{2B920} ext E', '한국어 텍스트 입니다', 'ㄱㅏ 가 \u1100\u1161',
  'ひらがな カタカナ ｶﾀｶﾅ ｶﾞ か\u3099', '😀 👍🏽 👨\u200d👩\u200d👧\u200d👦 🏳\ufe0f\u200d🌈 🇺🇸 1\ufe0f\u20e3',
  '🥰 🫠 🫨 🪿 \u{1FA75}', 'مرحبا بالعالم ١٢٣', 'שָׁלוֹם עולם', 'Привет мир ЁЖИК', 'नमस्ते दुनिया',
  'สวัสดีครับ', 'a\u0301\u0328 a\u0328\u0301 q\u0307\u0323', '\u0301abc \u0301', 'e\u0301\u0301\u0301',
  '$+<=>^`|~ #%&*@\\/_{}[]', '«quotes» „low“ ‘single’ ‹›', 'em—dash – en … ellipsis ‰ † ‡ • ′ ″',
  '¿Qué? ¡Sí! ¶ § · ՛ ։ ׃', '、。「」『』【】〜・', 'https://example.com/path?q=1&x=y#frag',
  'user.name+tag@example.co.uk', 'price: $12.50 (3.14159) 1,000,000 -42 1e10 0x1F ½ ¾',
  'iPhone McDonald\'s O\'Neil MIXED case', 'pneumonoultramicroscopicsilicovolcanoconiosis',
  LONG_WORD_100, LONG_WORD_101, 'x ' + LONG_WORD_100 + ' y ' + LONG_WORD_101 + ' z',
  'ideographic\u3000space non\u00a0breaking thin\u2009space line\u2028sep para\u2029sep',
  'tab\tseparated\tvalues\vvt\fff', '\ue000 private \u{F0000} \u{10FFFD}', 'unassigned \u0378 \u{E0001} tag \u{E0041}',
  'new \u{1FAE8} \u{2FFC} \u{1CC00} \u{31350}', 'ﷺ ﷽', 'Ꭰꭰ Ａ\u0301', '[CLS] hello [SEP] [MASK] [UNK] [PAD]',
  '[mask] [Mask] ##ing', 'unaffable tokenization', '...!!!???', 'a.b,c;d:e', 'ab\u00a0\u00a0cd',
];

// Texts that separate the four BertNormalizer options from each other.
const BN_TEXTS = [
  'Héllo WÖRLD', 'cafe\u0301 CAFÉ', 'a\u0000b\u0007c\ufffd d\u200be\tf\ng\r\u00a0h', '中文abc字符',
  '𠀀𪜀\u{2B820}\u{2B920} カタカナ 한국', 'İstanbul ΣΟΦΟΣ', 'ﬁ x² Ａ', 'Crème\u2003Brûlée 🥰 \u{1FAE8} \u08e2',
];

// Texts for the standalone normalizers.
const NORM_TEXTS = [
  'Héllo WÖRLD', 'cafe\u0301 café', 'a\u0328\u0301 a\u0301\u0328', 'ﬁne x² ＡＢＣ ① ㎏', 'İstanbul ΣΟΦΟΣ straße ẞ',
  'Å Ω K ǅ', '한국어 가 \u1100\u1161\u11a8', 'ｶﾞ ガ か\u3099', 'ﷺ ﷽', '\u0000a\u200bb\ufffd', '  padded  text  ',
  '𝐁𝐨𝐥𝐝 ℌ', '🥰 👍🏽 👨\u200d👩\u200d👧', 'नमस्ते', '',
];

const STRIP_TEXTS = ['  hello  ', '\t\n x \n', '   ', '', 'no-strip', '\u3000wide\u3000', ' a b ', '\u00a0nbsp\u00a0'];

// Lowercase on purpose: Replace alone does not lowercase and the vocabulary is uncased.
const REPLACE_TEXTS = [
  'hello world', 'hello', 'olleh', 'aaa banana', '', 'e', 'hello hellohello', 'ball all llama',
  'a b  c   d', "don't café e\u0301", 'x hello y',
];

const PRE_TEXTS = [
  "Hello, world! How's it going?", 'don\'t-stop...now', 'a.b,c;d:e', '  leading and trailing  ', '', '...',
  '¿¡«»', 'price $12.50 + 5% = 13', 'email: a.b@c.com url: http://x.y/z?q=1', '中文，标点。',
  'tab\tnew\nline', 'x\u00a0y\u3000z\u2028w', 'under_score snake_case __init__.py', 'mixed123numbers 4ever',
  '🥰🫠 emoji!!', 'e\u0301 café naïve', '$+<=>^`|~', 'a--b—c', '٣٤ ١٢٣ arabic-indic digits ² ½ Ⅻ',
  'ⓐⓑ ʰ ǅ', 'a\u200db a\u200cb',
];

const MODEL_TEXTS = [
  'hello world', 'unaffable', 'tokenization', 'hello helloo', 'ααααα αααααα', 'naïve', '中文',
  "don't", '', '😀😀😀😀😀', LONG_WORD_100, LONG_WORD_101,
];

const SINGLES = ['hello world', '', 'a'];
const PAIRS = [['hello', 'world'], ['', ''], ['how are you?', 'fine, thanks!'], ['a', ''], ['', 'b c']];

// ---------------------------------------------------------------------------------------
// Component builders (HF 0.22 JSON serialization).

const bertNorm = (clean_text, handle_chinese_chars, strip_accents, lowercase) =>
  ({ type: 'BertNormalizer', clean_text, handle_chinese_chars, strip_accents, lowercase });
const N = {
  lowercase: { type: 'Lowercase' }, nfd: { type: 'NFD' }, nfkd: { type: 'NFKD' }, nfc: { type: 'NFC' },
  nfkc: { type: 'NFKC' }, stripAccents: { type: 'StripAccents' },
  strip: (strip_left, strip_right) => ({ type: 'Strip', strip_left, strip_right }),
  replace: (pattern, content) => ({ type: 'Replace', pattern: { String: pattern }, content }),
  seq: (...normalizers) => ({ type: 'Sequence', normalizers }),
};
const PT = {
  bert: { type: 'BertPreTokenizer' }, whitespace: { type: 'Whitespace' }, whitespaceSplit: { type: 'WhitespaceSplit' },
  punct: behavior => ({ type: 'Punctuation', behavior }),
  seq: (...pretokenizers) => ({ type: 'Sequence', pretokenizers }),
};

// "[CLS] $A:0 [SEP]:1" -> TemplateProcessing pieces; ids of specials come from `specials`.
function template(single, pair, specials) {
  const parse = s => s.split(/\s+/).filter(Boolean).map(p => {
    const m = /^(.*?)(?::(\d+))?$/.exec(p);
    const type_id = m[2] === undefined ? 0 : Number(m[2]);
    return m[1].startsWith('$') ? { Sequence: { id: m[1].slice(1), type_id } } : { SpecialToken: { id: m[1], type_id } };
  });
  const special_tokens = {};
  for (const [id, ids, tokens] of specials) special_tokens[id] = { id, ids, tokens };
  return { type: 'TemplateProcessing', single: parse(single), pair: parse(pair), special_tokens };
}
const CLS_SEP = [['[CLS]', [101], ['[CLS]']], ['[SEP]', [102], ['[SEP]']]];

// Added tokens: the base five specials (optionally modified) plus `extra`. HF assigns ids
// itself (a content already in the vocab keeps its vocab id, new ones get 30522, 30523, ...
// in list order); the ids written here are computed the same way and checked after loading.
function addedTokens(extra = [], baseMods = {}) {
  const list = BASE.added_tokens.map(t => ({ ...t, ...(baseMods[t.content] || {}) }));
  let next = Object.keys(VOCAB).length;
  for (const e of extra) {
    const t = { id: 0, content: e.content, single_word: false, lstrip: false, rstrip: false, normalized: !e.special, special: false, ...e };
    t.id = VOCAB[t.content] ?? next++;
    list.push(t);
  }
  return list.map(({ id, content, single_word, lstrip, rstrip, normalized, special }) =>
    ({ id, content, single_word, lstrip, rstrip, normalized, special }));
}

// ---------------------------------------------------------------------------------------
// Configs: {name, overrides, inputs, truncation?, add_special_tokens?}. An input is a text,
// a [text, pair] array, or {text, pair, truncation, add_special_tokens} for per-case settings.

const configs = [];
const cfg = (name, overrides, inputs, opts = {}) => configs.push({ name, overrides, inputs, ...opts });
const TRUNC = (max_length, strategy = 'longest_first', direction = 'right') => ({ max_length, strategy, direction });

// The unmodified tokenizer on the broad text set, plus pairs.
cfg('bert_default', {}, [
  ...UNICODE_EDGE,
  ['Hello world', 'How are you?'], ['', 'non-empty'], ['café', 'CAFÉ'], ['中文', '😀 🥰'], ['[MASK]', '[SEP]'],
]);

// BertNormalizer: every combination of its four options.
for (const clean of [true, false]) for (const chinese of [true, false])
  for (const strip of [true, false, null]) for (const lower of [true, false]) {
    const name = `bert_normalizer_clean${+clean}_chinese${+chinese}_strip${strip === null ? 'null' : +strip}_lower${+lower}`;
    cfg(name, { normalizer: bertNorm(clean, chinese, strip, lower) }, BN_TEXTS);
  }

// Standalone normalizers, with the default BertPreTokenizer and WordPiece model.
cfg('normalizer_null', { normalizer: null }, [...NORM_TEXTS, 'hello world', 'UPPER lower']);
cfg('normalizer_lowercase', { normalizer: N.lowercase }, [...NORM_TEXTS, 'ΣΊΣΥΦΟΣ σς', 'İI ǅ ẞ', 'Ꭰ ⓐⒶ']);
// Plain forms on a subset (no lowercasing: most words become [UNK], but offsets still
// show the alignment); with Lowercase after them on all texts so that vocab hits show.
for (const f of ['nfd', 'nfkd', 'nfc', 'nfkc']) {
  cfg(`normalizer_${f}`, { normalizer: N[f] }, NORM_TEXTS.slice(0, 9));
  cfg(`normalizer_${f}_lowercase`, { normalizer: N.seq(N[f], N.lowercase) }, NORM_TEXTS);
}
cfg('normalizer_strip_accents', { normalizer: N.stripAccents }, [...NORM_TEXTS, 'नमस्ते ক্ষ', '\u0903\u0488 x\u20dd']);
cfg('normalizer_nfd_strip_accents', { normalizer: N.seq(N.nfd, N.stripAccents) }, NORM_TEXTS);
cfg('normalizer_nfd_strip_accents_lowercase', { normalizer: N.seq(N.nfd, N.stripAccents, N.lowercase) }, NORM_TEXTS);
for (const [l, r] of [[true, true], [true, false], [false, true], [false, false]])
  cfg(`normalizer_strip_l${+l}_r${+r}`, { normalizer: N.strip(l, r) }, STRIP_TEXTS);
cfg('normalizer_strip_lowercase', { normalizer: N.seq(N.strip(true, true), N.lowercase) }, ['  Hello World  ', '\tA\t']);

const REPLACES = [
  ['same_len', 'o', '0'], ['shorter', 'll', 'L'], ['longer', 'a', 'aaa'], ['empty', 'e', ''],
  ['space_removed', ' ', ''], ['multi_word', 'hello', 'hi there'], ['apostrophe', "'", " ' "],
  ['non_ascii', 'é', 'e'], ['double_space', '  ', ' '], ['to_punct', 'l', '.'], ['whole_word_start', 'hello', 'x'],
];
for (const [name, pat, content] of REPLACES) cfg(`normalizer_replace_${name}`, { normalizer: N.replace(pat, content) }, REPLACE_TEXTS.slice(0, 9));

cfg('normalizer_sequence_nfd_strip_lower', { normalizer: N.seq(N.nfd, N.stripAccents, N.lowercase) }, [...NORM_TEXTS.slice(0, 6), 'Crème Brûlée']);
cfg('normalizer_sequence_nfkc_lower_strip', { normalizer: N.seq(N.nfkc, N.lowercase, N.strip(true, true)) }, [...NORM_TEXTS.slice(0, 8), '  ＨＥＬＬＯ  ']);
cfg('normalizer_sequence_replace_quotes_nfkd', {
  normalizer: N.seq(N.replace('``', '"'), N.replace("''", '"'), N.nfkd, N.stripAccents, N.lowercase),
}, ["``Hello'' she said", "it''s ``Café''", 'ﬁne x²', '']);
cfg('normalizer_sequence_bert_replace', { normalizer: N.seq(bertNorm(true, true, null, true), N.replace('##', '')) }, ['Hello ##world', '##', 'a##b##c', 'Café']);
cfg('normalizer_sequence_lower_replace', { normalizer: N.seq(N.lowercase, N.replace('hello', 'hi')) }, ['Hello HELLO hello', 'Othello', 'HELLOHELLO']);
cfg('normalizer_sequence_replace_lower', { normalizer: N.seq(N.replace('hello', 'hi'), N.lowercase) }, ['Hello HELLO hello', 'Othello']);
cfg('normalizer_sequence_empty', { normalizer: N.seq() }, ['hello world', 'Hello', '']);
cfg('normalizer_sequence_nested', { normalizer: N.seq(N.seq(N.nfc, N.lowercase), N.seq(N.strip(true, false))) }, ['  Cafe\u0301 ', 'ΣΟΦΟΣ']);

// Pre-tokenizers (default BertNormalizer in front of them).
cfg('pre_tokenizer_bert', { pre_tokenizer: PT.bert }, PRE_TEXTS);
cfg('pre_tokenizer_whitespace', { pre_tokenizer: PT.whitespace }, PRE_TEXTS);
cfg('pre_tokenizer_whitespace_split', { pre_tokenizer: PT.whitespaceSplit }, PRE_TEXTS);
cfg('pre_tokenizer_null', { pre_tokenizer: null }, ['hello', 'hello world', 'hello,world', '', ' a ']);
for (const b of ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']) {
  const texts = ['hello,world', 'a.b', '...', 'x!!y??z', '(a)', ',start', 'end.', '', 'a,,b', '-'];
  cfg(`pre_tokenizer_punctuation_${b}`, { pre_tokenizer: PT.punct(b) }, [...texts, 'hello, world!']);
  cfg(`pre_tokenizer_ws_split_punctuation_${b}`, { pre_tokenizer: PT.seq(PT.whitespaceSplit, PT.punct(b)) }, [...texts, ...PRE_TEXTS.slice(0, 4)]);
}
cfg('pre_tokenizer_sequence_ws_bert', { pre_tokenizer: PT.seq(PT.whitespace, PT.bert) }, PRE_TEXTS.slice(0, 10));
cfg('pre_tokenizer_sequence_empty', { pre_tokenizer: PT.seq() }, ['hello', 'hello world']);
cfg('pre_tokenizer_whitespace_normalizer_null', { normalizer: null, pre_tokenizer: PT.whitespace }, PRE_TEXTS.slice(0, 12));

// WordPiece model options.
cfg('model_unk_unused0', { model: { unk_token: '[unused0]' } }, MODEL_TEXTS.slice(0, 8));
cfg('model_unk_missing', { model: { unk_token: '<unk>' } }, ['hello world', '😀', 'hello 😀', '']);
cfg('model_prefix_at', { model: { continuing_subword_prefix: '@@' } }, MODEL_TEXTS.slice(0, 8));
cfg('model_prefix_empty', { model: { continuing_subword_prefix: '' } }, MODEL_TEXTS.slice(0, 8));
for (const n of [0, 1, 3, 5]) cfg(`model_max_chars_${n}`, { model: { max_input_chars_per_word: n } }, MODEL_TEXTS.slice(0, 10));
cfg('model_max_chars_5_lowercase_only', { normalizer: N.lowercase, model: { max_input_chars_per_word: 5 } },
  ['naïve', 'nai\u0308v', 'ααααα', 'αααααα', '中中中中中', '中中中中中中']);

// Post-processors.
const POST_INPUTS = [...SINGLES, ...PAIRS];
cfg('post_default', {}, POST_INPUTS);
cfg('post_default_no_special', {}, POST_INPUTS, { add_special_tokens: false });
cfg('post_null', { post_processor: null }, POST_INPUTS);
cfg('post_bert_processing', { post_processor: { type: 'BertProcessing', sep: ['[SEP]', 102], cls: ['[CLS]', 101] } }, POST_INPUTS);
cfg('post_bert_processing_no_special', { post_processor: { type: 'BertProcessing', sep: ['[SEP]', 102], cls: ['[CLS]', 101] } }, POST_INPUTS, { add_special_tokens: false });
cfg('post_bert_processing_other_ids', { post_processor: { type: 'BertProcessing', sep: ['[unused1]', 2], cls: ['[unused0]', 1] } }, POST_INPUTS);
cfg('post_template_no_cls', { post_processor: template('$A [SEP]', '$A [SEP] $B:1 [SEP]:1', CLS_SEP) }, POST_INPUTS);
cfg('post_template_types', { post_processor: template('[CLS]:2 $A:3 [SEP]:4', '[CLS]:5 $B:1 [SEP]:2 $A:0 [SEP]:7', CLS_SEP) }, POST_INPUTS);
cfg('post_template_multi_id', {
  post_processor: template('[BOS] $A [SEP]', '[BOS] $A [MID] $B:1 [SEP]:1', [
    ['[BOS]', [101, 1], ['[CLS]', '[unused0]']], ['[MID]', [102, 2, 102], ['[SEP]', '[unused1]', '[SEP]']], ['[SEP]', [102], ['[SEP]']]]),
}, POST_INPUTS);
cfg('post_template_multi_id_no_special', {
  post_processor: template('[BOS] $A [SEP]', '[BOS] $A [MID] $B:1 [SEP]:1', [
    ['[BOS]', [101, 1], ['[CLS]', '[unused0]']], ['[MID]', [102, 2, 102], ['[SEP]', '[unused1]', '[SEP]']], ['[SEP]', [102], ['[SEP]']]]),
}, POST_INPUTS, { add_special_tokens: false });
cfg('post_template_no_specials', { post_processor: template('$A', '$A $B:1', []) }, POST_INPUTS);
cfg('post_template_roberta_like', { post_processor: template('[CLS] $A [SEP]', '[CLS] $A [SEP] [SEP] $B [SEP]', CLS_SEP) }, POST_INPUTS);
cfg('post_template_middle', { post_processor: template('$A [MASK] [SEP]', '$A:0 [MASK]:0 $B:1 [MASK]:1 [SEP]:1', [...CLS_SEP, ['[MASK]', [103], ['[MASK]']]]) }, POST_INPUTS);

// Added tokens. Each config's text list targets its token's options.
const MASK_TEXTS = [
  'hello [MASK] world', 'hello   [MASK]   world', '[MASK][MASK]', 'x[MASK]y', '[MASK]', '[mask]', '[Mask]',
  '[MASK] start', 'end [MASK]', '\t[MASK]\n', '\u3000[MASK]\u3000', '([MASK]).', 'hi,[MASK].', 'a [MASK]b',
  ['a [MASK] b', '[MASK] c'],
];
cfg('added_mask_default', {}, MASK_TEXTS);
cfg('added_mask_normalized', { added_tokens: addedTokens([], { '[MASK]': { normalized: true } }) }, MASK_TEXTS);
cfg('added_mask_lstrip', { added_tokens: addedTokens([], { '[MASK]': { lstrip: true } }) }, MASK_TEXTS);
cfg('added_mask_rstrip', { added_tokens: addedTokens([], { '[MASK]': { rstrip: true } }) }, MASK_TEXTS);
cfg('added_mask_lstrip_rstrip', { added_tokens: addedTokens([], { '[MASK]': { lstrip: true, rstrip: true } }) }, MASK_TEXTS);
cfg('added_mask_single_word', { added_tokens: addedTokens([], { '[MASK]': { single_word: true } }) }, MASK_TEXTS);
cfg('added_mask_normalized_lstrip_rstrip', { added_tokens: addedTokens([], { '[MASK]': { normalized: true, lstrip: true, rstrip: true } }) }, MASK_TEXTS);
cfg('added_mask_not_special', { added_tokens: addedTokens([], { '[MASK]': { special: false } }) }, MASK_TEXTS.slice(0, 6));
cfg('added_lower_mask_special', { added_tokens: addedTokens([{ content: '[mask]', special: true, normalized: false }]) }, MASK_TEXTS.slice(0, 8));
cfg('added_lower_mask_normalized', { added_tokens: addedTokens([{ content: '[mask]', special: true, normalized: true }]) }, MASK_TEXTS.slice(0, 8));

const HELLO_TEXTS = ['hello world', 'HELLO World', 'Hello', 'othello', 'hellohello', 'say hello.', 'hello', '', ['hello', 'hello there']];
cfg('added_hello_normalized', { added_tokens: addedTokens([{ content: 'hello', special: false, normalized: true }]) }, HELLO_TEXTS);
cfg('added_hello_not_normalized', { added_tokens: addedTokens([{ content: 'hello', special: false, normalized: false }]) }, HELLO_TEXTS);
cfg('added_hello_single_word', { added_tokens: addedTokens([{ content: 'hello', special: false, normalized: true, single_word: true }]) }, HELLO_TEXTS);
cfg('added_hello_special', { added_tokens: addedTokens([{ content: 'hello', special: true, normalized: true }]) }, HELLO_TEXTS);
cfg('added_hello_rstrip', { added_tokens: addedTokens([{ content: 'hello', special: false, normalized: true, rstrip: true }]) }, HELLO_TEXTS);

cfg('added_overlapping', {
  added_tokens: addedTokens([
    { content: 'new york', normalized: true }, { content: 'new york city', normalized: true },
    { content: 'ab', normalized: false }, { content: 'abc', normalized: false }, { content: 'bcd', normalized: false },
  ]),
}, ['i love new york city', 'new yorker', 'new', 'New York', 'NEW YORK CITY', 'abcd', 'xabx', 'abab', 'bcde', 'ab abc bcd', 'new  york']);
cfg('added_with_spaces', {
  added_tokens: addedTokens([{ content: ' x ', normalized: false }, { content: 'a b', normalized: false, special: true }]),
}, ['a x b', 'a b c', ' x ', 'ax b', 'a b', 'a  b', ['a b', ' x ']]);
cfg('added_non_ascii', {
  added_tokens: addedTokens([
    { content: 'café', normalized: true }, { content: 'Ünï', normalized: false }, { content: '🥰', special: true, normalized: false },
    { content: '中文', normalized: true },
  ]),
}, ['Café au lait', 'cafe', 'café', 'CAFÉ', 'Ünï ünï', 'love🥰you 🥰', '中文字符', '学中文', '']);
cfg('added_new_specials', {
  added_tokens: addedTokens([
    { content: '<s>', special: true, normalized: false }, { content: '</s>', special: true, normalized: false },
    { content: '<s>x', special: false, normalized: false }, { content: '<ent>', special: true, normalized: false, lstrip: true, rstrip: true },
  ]),
}, ['<s>hello</s>', '<s>x', '<s> x', 'a <ent> b', 'a<ent>b', '</s></s>', '<S>', '', ['<s>a', 'b</s>']]);

// Truncation: every strategy and direction on singles and pairs of different lengths.
const TR_INPUTS = [
  'one two three four five six seven eight nine ten', 'a', '',
  'unaffable unbelievable pneumonoultramicroscopicsilicovolcanoconiosis',
  ['one two three four five six seven eight', 'a b'], ['a b', 'one two three four five six seven eight'],
  ['one two three four five six', 'seven eight nine ten eleven twelve'], ['a b c', 'd e f'],
  ['one two three four', ''], ['unaffable pneumonoultramicroscopic', 'tokenization is fun'],
];
for (const strategy of ['longest_first', 'only_first', 'only_second'])
  for (const direction of ['right', 'left'])
    for (const n of [3, 5, 8]) cfg(`truncation_${strategy}_${direction}_${n}`, {}, TR_INPUTS, { truncation: TRUNC(n, strategy, direction) });
// max_length at or below the number of added special tokens (2 single, 3 pair).
for (const strategy of ['longest_first', 'only_first', 'only_second'])
  for (const n of strategy === 'longest_first' ? [0, 1, 2] : [1, 2])
    cfg(`truncation_${strategy}_tiny_${n}`, {}, ['hello world', ['hello', 'world'], '', ['a b c d', 'e']], { truncation: TRUNC(n, strategy) });
cfg('truncation_no_special', {}, TR_INPUTS, { truncation: TRUNC(3), add_special_tokens: false });
cfg('truncation_no_special_left_1', {}, TR_INPUTS.slice(0, 6), { truncation: TRUNC(1, 'longest_first', 'left'), add_special_tokens: false });
cfg('truncation_multi_id_template', {
  post_processor: template('[BOS] $A [SEP]', '[BOS] $A [MID] $B:1 [SEP]:1', [
    ['[BOS]', [101, 1], ['[CLS]', '[unused0]']], ['[MID]', [102, 2, 102], ['[SEP]', '[unused1]', '[SEP]']], ['[SEP]', [102], ['[SEP]']]]),
}, TR_INPUTS.slice(0, 8), { truncation: TRUNC(9) });
cfg('truncation_post_null', { post_processor: null }, TR_INPUTS.slice(0, 8), { truncation: TRUNC(5) });
cfg('truncation_added_tokens', {}, ['hello [MASK] world [MASK] again', ['[MASK] a b c', 'd [MASK] e f']], { truncation: TRUNC(6) });
const LONG_DOC = Array.from({ length: 300 }, (_, i) => ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'unaffable', 'dogs', '.'][i % 9]).join(' ');
cfg('truncation_512', {}, [LONG_DOC + ' ' + LONG_DOC, [LONG_DOC, LONG_DOC]], { truncation: TRUNC(512) });

// Decoding: WordPiece decoder with cleanup on/off, null decoder, added special tokens.
const DECODE_TEXTS = [
  "hello , world . how are you ? i ' m fine ! don ' t do not it ' s we ' ve they ' re",
  'unaffable tokenization of pneumonoultramicroscopicsilicovolcanoconiosis', 'hello [MASK] world',
  'Café 中文 😀 ½', "She said: \"isn't it?\" (yes)", '',
];
const DECODE_EXTRA_IDS = [
  [2050, 7592], [7592, 100, 2088], [0, 0, 101, 102], [999999, 7592, 30522, 2088], [1012, 1012, 1029], [1005, 1049],
  [2123, 1005, 1056], [1011, 1011, 2050], [],
];
const decodeConfigs = [
  ['decode_cleanup_true', {}],
  ['decode_cleanup_false', { decoder: { type: 'WordPiece', prefix: '##', cleanup: false } }],
  ['decode_prefix_at', { decoder: { type: 'WordPiece', prefix: '@@', cleanup: true } }],
  ['decode_decoder_null', { decoder: null }],
  ['decode_added_tokens', {
    added_tokens: addedTokens([{ content: '<ent>', special: true, normalized: false }, { content: 'new york', normalized: true }]),
  }],
];

// ---------------------------------------------------------------------------------------

const tmp = mkdtempSync(join(tmpdir(), 'hf-ref-variants-'));
let nVariant = 0;
function loadVariant(overrides) {
  const t = applyOverrides(BASE, overrides);
  const file = join(tmp, `variant-${nVariant++}.json`);
  writeFileSync(file, JSON.stringify(t));
  const tok = Tokenizer.fromFile(file);
  for (const a of t.added_tokens) {
    const got = tok.tokenToId(a.content);
    if (got !== a.id) throw new Error(`added token ${JSON.stringify(a.content)}: HF assigned ${got}, JSON says ${a.id}`);
  }
  tok.disablePadding();
  return tok;
}

const lines = [];
const stats = {};
const count = (name, kind) => { const g = name.replace(/_.*$/, ''); stats[g] = stats[g] || { cases: 0, errors: 0, decode: 0 }; stats[g][kind]++; };
for (const c of configs) {
  const tok = loadVariant(c.overrides);
  let n = 0;
  for (const input of c.inputs) {
    const o = typeof input === 'string' ? { text: input } : Array.isArray(input) ? { text: input[0], pair: input[1] } : input;
    const truncation = o.truncation !== undefined ? o.truncation : (c.truncation ?? null);
    const add = o.add_special_tokens ?? c.add_special_tokens ?? true;
    configureTruncation(tok, truncation);
    const res = await encodeCase(tok, o.text, o.pair ?? null, add);
    const name = `${c.name}/${n++}`;
    lines.push({
      name, base: BASE_NAME, overrides: c.overrides, truncation, add_special_tokens: add,
      text: o.text, pair: o.pair ?? null, ...res,
    });
    count(c.name, res.expected ? 'cases' : 'errors');
  }
}

const baseTok = loadVariant({});
const decodeIds = [];
for (const t of DECODE_TEXTS) decodeIds.push((await baseTok.encode(t, null, { addSpecialTokens: true })).getIds());
decodeIds.push((await baseTok.encode('Hello world', 'How are you?', { addSpecialTokens: true })).getIds());
decodeIds.push(...DECODE_EXTRA_IDS);
for (const [cname, overrides] of decodeConfigs) {
  const tok = loadVariant(overrides);
  const ids = [...decodeIds];
  if (overrides.added_tokens) {
    const enc = await tok.encode('a <ent> b new york c', null, { addSpecialTokens: true });
    ids.push(enc.getIds());
  }
  let n = 0;
  for (const idList of ids) for (const skip of [false, true]) {
    lines.push({
      name: `${cname}/${n++}`, base: BASE_NAME, overrides, kind: 'decode', ids: idList,
      skip_special_tokens: skip, expected_text: await tok.decode(idList, skip),
    });
    count(cname, 'decode');
  }
}
rmSync(tmp, { recursive: true, force: true });

mkdirSync(dirname(outPath), { recursive: true });
const body = lines.map(l => JSON.stringify(l)).join('\n') + '\n';
writeFileSync(outPath, body);
console.error(JSON.stringify(stats));
console.error(`wrote ${lines.length} cases to ${outPath} (${(Buffer.byteLength(body) / 1e6).toFixed(2)} MB)`);
