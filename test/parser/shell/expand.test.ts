import { describe, expect, test } from 'vitest';
import { expandWord, expandWordTracking, lookupFrom } from '../../../src/parser/shell/index.js';
import { isTbuildError } from '../../../src/errors.js';

const ENV: Record<string, string> = {
  PWD: '/home',
  SHELL: 'bash',
  KOREAN: '한국어',
  NULL: '',
  SPACE: 'a  b',
  X: 'xxyy',
  PATHV: '/usr/local/bin/tool.tar.gz',
  STARS: 'a***yy*',
  URL: 'http://example.com/x',
  EMOJI: '👽🚀🖖',
};
const lookup = lookupFrom(ENV);

// [input, expected] with ENV; 'error' means a TB_EXPAND/TB_EXPAND_REQUIRED error.
const BACKSLASH: [string, string][] = [
  ['hello', 'hello'],
  ["he'll'o", 'hello'],
  ["he'llo", 'error'],
  ["he\\'llo", "he'llo"],
  ["he\\\\'llo", 'error'],
  ['abc\\tdef', 'abctdef'],
  ['"abc\\tdef"', 'abc\\tdef'],
  ['"abc\\\\tdef"', 'abc\\tdef'],
  ["'abc\\tdef'", 'abc\\tdef'],
  ['hello\\', 'hello'],
  ['hello\\\\', 'hello\\'],
  ['"hello', 'error'],
  ['"hello\\"', 'error'],
  ['"hel\'lo"', "hel'lo"],
  ["'hello", 'error'],
  ["'hello\\'", 'hello\\'],
  ["'hello\\there'", 'hello\\there'],
  ['"\'\'"', "''"],
  ['$.', '$.'],
  ['$', '$'],
  ['a$', 'a$'],
  ['$ x', '$ x'],
  ['he$1x', 'hex'],
  ['he$.x', 'he$.x'],
  ['he$pwd.', 'he.'],
  ['he$PWD', 'he/home'],
  ['he\\$PWD', 'he$PWD'],
  ['he\\\\$PWD', 'he\\/home'],
  ['"he\\$PWD"', 'he$PWD'],
  ['"he\\\\$PWD"', 'he\\/home'],
  ['\\${}', '${}'],
  ['he\\${}xx', 'he${}xx'],
  ['${}', 'error'],
  ['he${}xx', 'error'],
  ['he${hi}', 'he'],
  ['he${hi}xx', 'hexx'],
  ['he${PWD}', 'he/home'],
  ['he${.}', 'error'],
  ['he${XXX:-000}xx', 'he000xx'],
  ['he${PWD:-000}xx', 'he/homexx'],
  ['he${XXX:-$PWD}xx', 'he/homexx'],
  ['he${XXX:-${PWD:-yyy}}xx', 'he/homexx'],
  ['he${XXX:-${YYY:-yyy}}xx', 'heyyyxx'],
  ['${a:-${b:-${c:-deep}}}', 'deep'],
  ['he${XXX:YYY}', 'error'],
  ['he${XXX?}', 'error'],
  ['he${XXX:?}', 'error'],
  ['he${PWD?}', 'he/home'],
  ['he${PWD:?}', 'he/home'],
  ['he${NULL?}', 'he'],
  ['he${NULL:?}', 'error'],
  ['he${XXX:+${PWD}}xx', 'hexx'],
  ['he${PWD:+${XXX}}xx', 'hexx'],
  ['he${PWD:+${SHELL}}xx', 'hebashxx'],
  ['he${XXX:+000}xx', 'hexx'],
  ['he${PWD:+000}xx', 'he000xx'],
  ["'he${XX}'", 'he${XX}'],
  ['"he${PWD}"', 'he/home'],
  ['"he\'$PWD\'"', "he'/home'"],
  ['"$PWD"', '/home'],
  ["'$PWD'", '$PWD'],
  ["'\\$PWD'", '\\$PWD'],
  ['\'"hello"\'', '"hello"'],
  ['he${PWD', 'error'],
  ['he${PWD:=000}xx', 'error'],
  ['he${PWD=000}xx', 'error'],
  ['he${PWD:+${PWD}:}xx', 'he/home:xx'],
  ['he${XXX:-\\$PWD:}xx', 'he$PWD:xx'],
  ['he${XXX:-\\${PWD}z}xx', 'he${PWDz}xx'],
  ['${NULL-dflt}', ''],
  ['${NULL:-dflt}', 'dflt'],
  ['${NULL+alt}', 'alt'],
  ['${NULL:+alt}', ''],
  ['${UNSET-dflt}', 'dflt'],
  ['${UNSET+alt}', ''],
  ['${UNSET:-}', ''],
  ['${PWD:-}', '/home'],
  ['${aaa}}', '}'],
  ['${{aaa}', 'error'],
  ['${aaa', 'error'],
  ['${aaa:-bbb}}', 'bbb}'],
  ['${aaa:-bbb', 'error'],
  ['${aaa:-bbb ${foo}', 'error'],
  ['${aaa:-bbb {foo}', 'bbb {foo'],
  ['${:}', 'error'],
  ['${:-bbb}', 'error'],
  ['${', 'error'],
  ['${aaa:-"quoted } brace"}', 'quoted } brace'],
  ["${aaa:-'single $PWD'}", 'single $PWD'],
  ['${aaa:-a\\}b}', 'a}b'],
  // positional and special parameters are never set
  ['$1', ''],
  ['${1:-bbb}', 'bbb'],
  ['$999aaa', 'aaa'],
  ['${001:+bbb}aaa', 'aaa'],
  ['$@@@', '@@'],
  ['${@:-bbb}aaa', 'bbbaaa'],
  ['$*', ''],
  ['${#:-bbb}', 'bbb'],
  ['$?', ''],
  ['$$', ''],
  ['${!:+bbb}', ''],
  ['$0', ''],
  ['$-x', 'x'],
  // names: letters (any script), digits, underscore
  ['$KOREAN', '한국어'],
  ['안녕$KOREAN', '안녕한국어'],
  ["안'녕'하세요", '안녕하세요'],
  ['안녕\\$PWD', '안녕$PWD'],
  ['$PWD_x', ''],
  ['${PWD}_x', '/home_x'],
  ['$PWD-x', '/home-x'],
  ['$PWD/bin', '/home/bin'],
  ['${EMOJI}!', '👽🚀🖖!'],
  // pattern removal
  ['${X#x}', 'xyy'],
  ['${X##*x}', 'yy'],
  ['${X#*x*y}', 'y'],
  ['${X#*}', 'xxyy'],
  ['${X#}', 'xxyy'],
  ['${X##}', 'xxyy'],
  ['${X%y}', 'xxy'],
  ['${X%%y*}', 'xx'],
  ['${X%*y}', 'xxy'],
  ['${X%%*y}', ''],
  ['${X%}', 'xxyy'],
  ['${X%z}', 'xxyy'],
  ['${X#?}', 'xyy'],
  ['${X#??}', 'yy'],
  ['${STARS%%\\**\\*}', 'a'],
  ['${PATHV##*/}', 'tool.tar.gz'],
  ['${PATHV%/*}', '/usr/local/bin'],
  ['${PATHV%%.*}', '/usr/local/bin/tool'],
  ['${PATHV%.*}', '/usr/local/bin/tool.tar'],
  ['${PATHV#/usr}', '/local/bin/tool.tar.gz'],
  ['${PATHV#[/]usr}', '/usr/local/bin/tool.tar.gz'],
  ['${UNSET#x}', ''],
  ['${X#$SHELL}', 'xxyy'],
  ['${EMOJI#?}', '🚀🖖'],
  ['${EMOJI%?}', '👽🚀'],
  ['${X:#x}', 'error'],
  ['${X:%x}', 'error'],
  ['${X#\\x}', 'error'],
  // pattern substitution
  ['${X/x/z}', 'zxyy'],
  ['${X//x/z}', 'zzyy'],
  ['${X/y*/Q}', 'xxQ'],
  ['${X//?/.}', '....'],
  ['${URL/http:\\/\\//https:\\/\\/}', 'https:\\/\\/example.com/x'],
  ['${PATHV//\\//-}', '-usr-local-bin-tool.tar.gz'],
  ['${X/nomatch/z}', 'xxyy'],
  ['${X///}', 'xxyy'],
  ['${X//}', 'error'],
  ['${X//ww}', 'error'],
  ['${UNSET/a/b}', ''],
  ['${X/x/$SHELL}', 'bashxyy'],
  ['${X//x/[$]}', '[$][$]yy'],
  ['${X//x*/<$0>}', '<>'],
  ['${X//x*/<\\$0>}', '<\\xxyy>'],
  ['${X//x/$$}', 'yy'],
  ['${X//x/\\$}', '\\$\\$yy'],
  ['${X//y/}', 'xx'],
  // heredoc markers are kept glued
  ['<<EOF', '<<EOF'],
  ['a<b', 'a<b'],
];

function expectError(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(isTbuildError(caught, 'TB_EXPAND') || isTbuildError(caught, 'TB_EXPAND_REQUIRED'), String(caught)).toBe(true);
}

describe('expandWord (backslash escape)', () => {
  test.each(BACKSLASH)('%s', (input, expected) => {
    if (expected === 'error') expectError(() => expandWord(input, lookup));
    else expect(expandWord(input, lookup)).toBe(expected);
  });
});

const BACKTICK: [string, string][] = [
  ['he`$PWD', 'he$PWD'],
  ['he\\$PWD', 'he\\/home'],
  ['C:\\path\\to', 'C:\\path\\to'],
  ['a` b', 'a b'],
  ['"a`"b"', 'a"b'],
  ['"a\\"', 'a\\'],
  ['"a``b"', 'a`b'],
  ['"a`xb"', 'a`xb'],
  ['"`$PWD"', '$PWD'],
  ['hello`', 'hello'],
  ['hello``', 'hello`'],
  ["it`'s", "it's"],
  ['${UNSET:-a`}b}', 'a}b'],
  ['c:\\${UNSET:-x}', 'c:\\x'],
];

describe('expandWord (backtick escape)', () => {
  test.each(BACKTICK)('%s', (input, expected) => {
    expect(expandWord(input, lookup, { escape: '`' })).toBe(expected);
  });
});

describe('errors', () => {
  test('required message and code, unset', () => {
    try {
      expandWord('${VAR?message here$ARG}', lookupFrom({ ARG: 'x' }));
      expect.unreachable();
    } catch (err) {
      expect(isTbuildError(err, 'TB_EXPAND_REQUIRED')).toBe(true);
      expect((err as Error).message).toContain('VAR: message herex');
    }
  });
  test('required default messages', () => {
    expect(() => expandWord('${V?}', lookupFrom({}))).toThrow(/V: is not allowed to be unset/);
    expect(() => expandWord('${V:?}', lookupFrom({ V: '' }))).toThrow(/V: is not allowed to be empty/);
    expect(expandWord('${V?}', lookupFrom({ V: '' }))).toBe('');
    expect(expandWord('${V:?msg}', lookupFrom({ V: 'plain' }))).toBe('plain');
  });
  test('syntax errors name the word', () => {
    try {
      expandWord('a${}b', lookup);
      expect.unreachable();
    } catch (err) {
      expect(isTbuildError(err, 'TB_EXPAND')).toBe(true);
      expect((err as Error).message).toBe('failed to process "a${}b": syntax error: bad substitution');
    }
    expect(() => expandWord('${a', lookup)).toThrow(/missing '}'/);
    expect(() => expandWord('${a/b', lookup)).toThrow(/missing '\/' in/);
    expect(() => expandWord('"abc', lookup)).toThrow(/matching double-quote/);
    expect(() => expandWord("'abc", lookup)).toThrow(/matching single-quote/);
    expect(() => expandWord('${a=b}', lookup)).toThrow(/unsupported modifier \(=\)/);
  });
});

describe('expandWordTracking', () => {
  const cases: [string, Record<string, string>, string, string[], string[]][] = [
    ['x', { DUMMY: 'd' }, 'x', [], []],
    ['x ${UNUSED}', { DUMMY: 'd' }, 'x ', [], ['UNUSED']],
    ['${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}', { FOO: 'xxx', BAR: '' }, 'xxx  ccc', ['FOO', 'BAR'], ['BAZ']],
    ['${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}', { FOO: 'xxx', BAR: '' }, 'xxx bbb ccc', ['FOO', 'BAR'], ['BAZ']],
    ['${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}', { FOO: 'xxx', BAR: '' }, 'aaa bbb ', ['FOO', 'BAR'], ['BAZ']],
    ['${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}', { FOO: 'xxx', BAR: '' }, 'aaa  ', ['FOO', 'BAR'], ['BAZ']],
    ['${FOO#$BAR}', { FOO: 'xxyy', BAR: 'x' }, 'xyy', ['FOO', 'BAR'], []],
    ['${ABC:-.}${FOO%x}${ABC:-.}', { FOO: 'xxyy' }, '.xxyy.', ['FOO'], ['ABC']],
    ["'$A' \"$B\"", { B: 'b' }, '$A b', ['B'], []],
    ['\\$A $B', {}, '$A ', [], ['B']],
    ['${FOO/$N/.} - ${FOO//$N/.}', { FOO: '/foo*/*/*.txt', N: '\\*/' }, '/foo.*/*.txt - /foo..*.txt', ['FOO', 'N'], []],
    ['${FOO/$N/} - ${FOO//$N/}', { FOO: '/tmp/tmp/bar.txt', N: '/tmp' }, '/tmp/bar.txt - /bar.txt', ['FOO', 'N'], []],
    ['${FOO/$N/$R} - ${FOO//$N/$R}', { FOO: '/a/foo/b/c.txt', N: '/?/', R: '/' }, '/foo/b/c.txt - /foo/c.txt', ['FOO', 'N', 'R'], []],
    ['${FOO//\\//\\/}', { FOO: '/tmp/foo.txt' }, '\\/tmp\\/foo.txt', ['FOO'], []],
    ['${FOO/$B/ww}', { FOO: 'xxyy', B: '' }, 'wwxxyy', ['FOO', 'B'], []],
    ['${FOO#()[]{\\}^$.\\*\\?|\\\\}', { FOO: '()[]{}^$.*?|\\x' }, 'x', ['FOO'], []],
    ['${FOO%%\\**}', { FOO: 'xx**' }, 'xx', ['FOO'], []],
    ['${FOO#?\\?}', { FOO: '???y' }, '?y', ['FOO'], []],
    [
      'something-${V}.${OS}-${ARCH}${VARIANT:+-${VARIANT}}.tar.gz',
      { V: 'v1', OS: 'linux', ARCH: 'arm', VARIANT: 'v7' },
      'something-v1.linux-arm-v7.tar.gz',
      ['V', 'OS', 'ARCH', 'VARIANT'],
      [],
    ],
    [
      'something-${V}.${OS}-${ARCH}${VARIANT:+-${VARIANT}}.tar.gz',
      { V: 'v1', OS: 'linux', ARCH: 'arm64' },
      'something-v1.linux-arm64.tar.gz',
      ['V', 'OS', 'ARCH'],
      ['VARIANT'],
    ],
  ];
  test.each(cases)('%s', (input, env, expected, matched, unmatched) => {
    const r = expandWordTracking(input, lookupFrom(env));
    expect(r.result).toBe(expected);
    expect([...r.matched].sort()).toEqual([...matched].sort());
    expect([...r.unmatched].sort()).toEqual([...unmatched].sort());
  });

  test('lookup can be a Map with undefined meaning unset', () => {
    const m = new Map<string, string | undefined>([['A', 'a'], ['B', undefined]]);
    const r = expandWordTracking('$A${B-b}', lookupFrom(m));
    expect(r.result).toBe('ab');
    expect([...r.unmatched]).toEqual(['B']);
  });
});
