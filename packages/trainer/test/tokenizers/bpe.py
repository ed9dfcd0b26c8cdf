"""An independent BPE encoder for the golden ids, written from the Hugging Face tokenizers algorithm (no tokenizers
code: none is installable here): added tokens split out first (leftmost-longest), the normalizer (NFC, Replace),
the pre-tokenizer (Split regex Isolated + ByteLevel, or Split on a string), then the BPE model (ignore_merges,
lowest-rank merge first, byte_fallback), then the post-processor's special tokens. It supports exactly the
components of the tokenizers it is given in make_goldens.py and refuses any other (assert)."""
import re
import sys
import unicodedata

# Oniguruma's Unicode \s (tokenizers compiles patterns with onig): White_Space, which unlike Python's \s excludes
# U+001C..U+001F.
SPACE = '\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000'


def _category_class(prefix):
    ranges, start, prev = [], None, None
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp)).startswith(prefix):
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            ranges.append((start, prev))
            start = None
    if start is not None:
        ranges.append((start, prev))
    esc = lambda c: '\\U%08x' % c
    return ''.join(esc(a) if a == b else f'{esc(a)}-{esc(b)}' for a, b in ranges)


_L, _N = _category_class('L'), _category_class('N')


def translate(pattern):
    """An onig pattern of the kind tokenizers files use, as a Python pattern with explicit Unicode classes."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == '\\':
            e = pattern[i:i + 5]
            if e == '\\p{L}':
                out.append(_L if in_class else f'[{_L}]'); i += 5; continue
            if e == '\\p{N}':
                out.append(_N if in_class else f'[{_N}]'); i += 5; continue
            two = pattern[i:i + 2]
            if two == '\\s':
                out.append(SPACE if in_class else f'[{SPACE}]'); i += 2; continue
            if two == '\\S':
                assert not in_class, pattern
                out.append(f'[^{SPACE}]'); i += 2; continue
            assert two in ('\\r', '\\n', '\\t'), ('unsupported escape', two)
            out.append(two); i += 2; continue
        if c == '[':
            in_class = True
        elif c == ']':
            in_class = False
        assert c != '\\' and pattern[i:i + 3] != '\\p{', pattern
        out.append(c); i += 1
    return re.compile(''.join(out))


def _bytes_to_unicode():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_CHAR = _bytes_to_unicode()


class Tokenizer:
    def __init__(self, tj):
        m = tj['model']
        assert m['type'] == 'BPE' and not m.get('dropout') and not m.get('continuing_subword_prefix') and not m.get('end_of_word_suffix')
        self.vocab = m['vocab']
        merges = [tuple(x.split(' ', 1)) if isinstance(x, str) else tuple(x) for x in m['merges']]
        self.ranks = {pair: r for r, pair in enumerate(merges)}
        self.ignore_merges = m.get('ignore_merges', False)
        self.byte_fallback = m.get('byte_fallback', False)
        self.added = {}
        for t in tj['added_tokens']:
            assert not t['lstrip'] and not t['rstrip'] and not t['single_word'], t
            self.added[t['content']] = t['id']
        self.added_by_length = sorted(self.added, key=len, reverse=True)
        self.normalize = self._normalizer(tj['normalizer'])
        self.pre_tokenize = self._pre_tokenizer(tj['pre_tokenizer'])
        self.special_prefix = self._post_processor(tj['post_processor'])

    def _normalizer(self, n):
        if n is None:
            return lambda s: s
        if n['type'] == 'NFC':
            return lambda s: unicodedata.normalize('NFC', s)
        if n['type'] == 'Replace':
            assert set(n['pattern']) == {'String'}
            return lambda s: s.replace(n['pattern']['String'], n['content'])
        raise AssertionError(('normalizer', n))

    def _pre_tokenizer(self, p):
        if p['type'] == 'Sequence':
            parts = [self._pre_tokenizer(x) for x in p['pretokenizers']]
            def seq(words):
                for f in parts:
                    words = f(words)
                return words
            return seq
        if p['type'] == 'Split':
            assert not p['invert']
            if 'Regex' in p['pattern']:
                assert p['behavior'] == 'Isolated'
                rx = translate(p['pattern']['Regex'])
                return lambda words: [m.group(0) for w in words for m in rx.finditer(w)]
            s = p['pattern']['String']
            assert p['behavior'] == 'MergedWithPrevious'
            def split(words):
                out = []
                for w in words:
                    pieces = w.split(s)
                    out += [x + s for x in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
                return out
            return split
        if p['type'] == 'ByteLevel':
            assert not p['add_prefix_space'] and not p['use_regex']
            return lambda words: [''.join(BYTE_CHAR[b] for b in w.encode('utf-8')) for w in words]
        raise AssertionError(('pre_tokenizer', p))

    def _post_processor(self, p):
        if p is None:
            return []
        if p['type'] == 'Sequence':
            prefixes = [self._post_processor(x) for x in p['processors']]
            return [i for x in prefixes for i in x]
        if p['type'] == 'ByteLevel':
            return []
        if p['type'] == 'TemplateProcessing':
            single = p['single']
            assert single[-1] == {'Sequence': {'id': 'A', 'type_id': 0}}, single
            return [p['special_tokens'][s['SpecialToken']['id']]['ids'][0] for s in single[:-1]]
        raise AssertionError(('post_processor', p))

    def _bpe(self, word):
        if self.ignore_merges and word in self.vocab:
            return [self.vocab[word]]
        symbols = []
        for ch in word:
            if ch in self.vocab:
                symbols.append(ch)
            else:
                assert self.byte_fallback, ('unknown symbol', ch)
                symbols += ['<0x%02X>' % b for b in ch.encode('utf-8')]
        while len(symbols) > 1:
            best = min(range(len(symbols) - 1), key=lambda i: self.ranks.get((symbols[i], symbols[i + 1]), float('inf')))
            if (symbols[best], symbols[best + 1]) not in self.ranks:
                break
            symbols[best:best + 2] = [symbols[best] + symbols[best + 1]]
        return [self.vocab[s] for s in symbols]

    def encode(self, text, add_special_tokens=False):
        ids = list(self.special_prefix) if add_special_tokens else []
        i, start = 0, 0
        while i <= len(text):
            match = next((t for t in self.added_by_length if text.startswith(t, i)), None) if i < len(text) else None
            if match is None and i < len(text):
                i += 1
                continue
            if start < i:
                for w in self.pre_tokenize([self.normalize(text[start:i])]):
                    ids += self._bpe(w)
            if match is None:
                break
            ids.append(self.added[match])
            i += len(match)
            start = i
        return ids
