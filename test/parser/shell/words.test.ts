import { describe, expect, test } from 'vitest';
import { expandWords, lookupFrom, splitWords } from '../../../src/parser/shell/index.js';

const lookup = lookupFrom({
  hi: 'hi',
  space: 'abc  def',
  leading: '  ab c',
  trailing: 'ab c   ',
  EMPTY: '',
  TAB: 'a\tb',
  NBSP: 'a\u00a0b',
});

const WORDS: [string, string[] | 'error'][] = [
  ['hello', ['hello']],
  ['hello${hi}bye', ['hellohibye']],
  ['hello${nope}bye', ['hellobye']],
  ['hello${space}bye', ['helloabc', 'defbye']],
  ['hello"${space}"bye', ['helloabc  defbye']],
  ['hello "${space}"bye', ['hello', 'abc  defbye']],
  ['hello${leading}def', ['hello', 'ab', 'cdef']],
  ['hello"${leading}" def', ['hello  ab c', 'def']],
  ['hello${leading}', ['hello', 'ab', 'c']],
  ['hello${trailing}', ['helloab', 'c']],
  ['hello${trailing}d', ['helloab', 'c', 'd']],
  ['hello"${trailing}"d', ['helloab c   d']],
  ['hel"lo${trailing}"', ['helloab c   ']],
  ['hello" there  "', ['hello there  ']],
  ['hello there     ', ['hello', 'there']],
  ['  hello   there', ['hello', 'there']],
  ['hello\\ there', ['hello there']],
  ['hello" there', 'error'],
  ['hello\\" there', ['hello"', 'there']],
  ['hello"\\\\there"', ['hello\\there']],
  ['hello"\\there"', ['hello\\there']],
  ["hello'\\\\there'", ['hello\\\\there']],
  ["hello'$there'", ['hello$there']],
  ['""', []],
  ["''", []],
  ['a "" b', ['a', 'b']],
  ['"$EMPTY"', []],
  ['$EMPTY', []],
  ['a $EMPTY b', ['a', 'b']],
  ['', []],
  ['   ', []],
  ['$TAB', ['a', 'b']],
  ['"$TAB"', ['a\tb']],
  ['$NBSP', ['a', 'b']],
  ['a\tb\nc', ['a', 'b', 'c']],
  ['80/tcp 443', ['80/tcp', '443']],
  ['${nope:-x y}', ['x', 'y']],
  ['"${nope:-x y}"', ['x y']],
  ['<< EOF /dst', ['<< EOF', '/dst']],
  ['<<EOF', ['<<EOF']],
  ['a<b c', ['a<b', 'c']],
];

describe('expandWords', () => {
  test.each(WORDS)('%s', (input, expected) => {
    if (expected === 'error') expect(() => expandWords(input, lookup)).toThrow(/failed to process/);
    else expect(expandWords(input, lookup)).toEqual(expected);
  });
  test('backtick escape keeps a backslash literal and escapes spaces', () => {
    expect(expandWords('C:\\a` b c', lookup, { escape: '`' })).toEqual(['C:\\a b', 'c']);
  });
});

const SPLIT: [string, string[]][] = [
  ['a b c', ['a', 'b', 'c']],
  ['  a   b  ', ['a', 'b']],
  ['a="b c" d', ['a="b c"', 'd']],
  ["a='b c' d", ["a='b c'", 'd']],
  ['a=b\\ c d', ['a=b\\ c', 'd']],
  ['a="b \\" c" d', ['a="b \\" c"', 'd']],
  ["a='b \\' c", ["a='b \\'", 'c']],
  ['""', ['""']],
  ["'' x", ["''", 'x']],
  ['"unterminated x', ['"unterminated x']],
  ['trailing\\', ['trailing']],
  ['"q\\', ['"q']],
  ['k=$V x=${Y:-a b}', ['k=$V', 'x=${Y:-a', 'b}']],
  ['안녕 "하 세요"', ['안녕', '"하 세요"']],
  ['', []],
  ['a\tb\nc', ['a', 'b', 'c']],
];

describe('splitWords', () => {
  test.each(SPLIT)('%s', (input, expected) => {
    expect(splitWords(input)).toEqual(expected);
  });
  test('backtick escape', () => {
    expect(splitWords('a=C:\\x` y "b`" c"', { escape: '`' })).toEqual(['a=C:\\x` y', '"b`" c"']);
  });
});
