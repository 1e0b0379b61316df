import { describe, expect, it } from 'vitest';
import { matchComponent } from '../../../src/worker/file/match.js';

// Every printable ASCII punctuation character a file name can hold (all but `/`).
const PUNCTUATION = [...'!"#$%&\'()+,-.:;<=>@]^_`{|}~'];

describe('wildcards next to every punctuation character (the u-flag regex must compile)', () => {
  it('code-server*.deb matches the release package', () => {
    expect(matchComponent('code-server*.deb', 'code-server_4.20.0_amd64.deb')).toBe(true);
    expect(matchComponent('code-server*.deb', 'code_server.deb')).toBe(false);
  });

  it.each(PUNCTUATION)('%s', (p) => {
    // Go's filepath.Match refuses a bare `-` or `]` as a class's first character: escape those.
    const c = p === '-' || p === ']' ? `\\${p}` : p;
    expect(matchComponent(`a${p}*${p}z`, `a${p}middle${p}z`)).toBe(true);
    expect(matchComponent(`a${p}?`, `a${p}x`)).toBe(true);
    expect(matchComponent(`a${p}*`, `b${p}x`)).toBe(false);
    expect(matchComponent(`[${c}x]*`, `${p}rest`)).toBe(true);
    expect(matchComponent(`[^${c}]*`, `${p}rest`)).toBe(false);
  });

  it('ranges and literal brackets keep their meaning', () => {
    expect(matchComponent('file[0-9].txt', 'file7.txt')).toBe(true);
    expect(matchComponent('file[!-#].txt', 'file".txt')).toBe(true);
    expect(() => matchComponent('[-x]', '-')).toThrow('syntax error in pattern');
    expect(matchComponent('\\[x\\]*', '[x]y')).toBe(true);
  });
});
