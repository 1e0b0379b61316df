import { describe, expect, test } from 'vitest';
import { findings } from './helpers.js';

describe('JSONArgsRecommended', () => {
  test('shell-form CMD and ENTRYPOINT warn', () => {
    expect(findings('FROM scratch\nCMD mycommand\n', 'JSONArgsRecommended')).toEqual([
      'JSONArgsRecommended@2: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals',
    ]);
    expect(findings('FROM scratch\nentrypoint mycommand\n', 'JSONArgsRecommended')).toEqual([
      'JSONArgsRecommended@2: JSON arguments recommended for entrypoint to prevent unintended behavior related to OS signals',
    ]);
  });
  test('exec form, a SHELL (also from a parent stage or the base image) is fine', () => {
    expect(findings('FROM scratch\nCMD ["mycommand"]\n', 'JSONArgsRecommended')).toEqual([]);
    expect(findings('FROM scratch\nSHELL ["/usr/bin/customshell"]\nCMD mycommand\n', 'JSONArgsRecommended')).toEqual([]);
    expect(findings('FROM scratch AS base\nSHELL ["/bin/x"]\nFROM base\nENTRYPOINT mycommand\n', 'JSONArgsRecommended')).toEqual([]);
    expect(findings('FROM img\nCMD run\n', 'JSONArgsRecommended', { baseImage: () => ({ shell: ['/bin/bash', '-c'] }) })).toEqual([]);
  });
  test('a # check=skip comment above the instruction silences it', () => {
    expect(findings('FROM scratch\n# check=skip=JSONArgsRecommended\nCMD mycommand\n')).toEqual([]);
  });
});

describe('MultipleInstructionsDisallowed', () => {
  const msg = (name: string, line: number) =>
    `MultipleInstructionsDisallowed@${line}: Multiple ${name} instructions should not be used in the same stage because only the last one will be used`;
  test('repeated CMD/ENTRYPOINT/HEALTHCHECK warn at the earlier one', () => {
    const df = 'FROM scratch\nENTRYPOINT ["/a"]\nCMD ["/a"]\nHEALTHCHECK CMD ["/a"]\nCOPY <<EOF /a.txt\nhi\nEOF\nENTRYPOINT ["/b"]\nCMD ["/b"]\nHEALTHCHECK CMD ["/b"]\n';
    expect(findings(df, 'MultipleInstructionsDisallowed')).toEqual([msg('ENTRYPOINT', 2), msg('CMD', 3), msg('HEALTHCHECK', 4)]);
  });
  test('one per stage is fine, also across stages', () => {
    expect(findings('FROM scratch AS a\nENTRYPOINT ["/a"]\nCMD ["/a"]\nFROM a AS b\nENTRYPOINT ["/b"]\nCMD ["/b"]\n', 'MultipleInstructionsDisallowed')).toEqual([]);
  });
});

describe('LegacyKeyValueFormat', () => {
  test('ENV/LABEL key value warns', () => {
    expect(findings('FROM scratch\nENV testkey value\nLABEL key value\n', 'LegacyKeyValueFormat')).toEqual([
      'LegacyKeyValueFormat@2: "ENV key=value" should be used instead of legacy "ENV key value" format',
      'LegacyKeyValueFormat@3: "LABEL key=value" should be used instead of legacy "LABEL key value" format',
    ]);
  });
  test('key=value is fine, and per-instruction skips work', () => {
    expect(findings('FROM scratch\nENV testkey=value\nLABEL key=value\n', 'LegacyKeyValueFormat')).toEqual([]);
    expect(findings('FROM scratch\n# check=skip=LegacyKeyValueFormat\nENV testkey value\n# check=skip=LegacyKeyValueFormat\nLABEL key value\n')).toEqual([]);
  });
});

describe('WorkdirRelativePath', () => {
  test('a relative first WORKDIR warns', () => {
    expect(findings('FROM scratch\nWORKDIR app/\n', 'WorkdirRelativePath')).toEqual([
      'WorkdirRelativePath@2: Relative workdir "app/" can have unexpected results if the base image changes',
    ]);
    expect(findings('FROM scratch\nARG D=rel\nWORKDIR $D\n', 'WorkdirRelativePath')).toEqual([
      'WorkdirRelativePath@3: Relative workdir "rel" can have unexpected results if the base image changes',
    ]);
  });
  test('after an absolute WORKDIR (also in a parent stage) relative ones are fine', () => {
    expect(findings('FROM scratch AS a\nWORKDIR /app\nFROM a AS b\nWORKDIR subdir/\n', 'WorkdirRelativePath')).toEqual([]);
    expect(findings('FROM scratch\nWORKDIR /app\nWORKDIR sub\n', 'WorkdirRelativePath')).toEqual([]);
  });
});

describe('ExposeProtoCasing / ExposeInvalidFormat', () => {
  test('upper-case protocol warns', () => {
    expect(findings('FROM scratch\nEXPOSE 80/TcP 53/udp\n', 'ExposeProtoCasing')).toEqual([
      "ExposeProtoCasing@2: Defined protocol '80/TcP' in EXPOSE instruction should be lowercase",
    ]);
  });
  test('IP address or host port warns', () => {
    expect(findings('FROM scratch\nARG P=8080:80\nEXPOSE 127.0.0.1:80:80 $P 443\n', 'ExposeInvalidFormat')).toEqual([
      // EXPOSE words are sorted by the parser, as BuildKit does
      "ExposeInvalidFormat@3: EXPOSE instruction should not define an IP address or host-port mapping, found '8080:80'",
      "ExposeInvalidFormat@3: EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:80:80'",
    ]);
  });
  test('plain ports are fine', () => {
    expect(findings('FROM scratch\nEXPOSE 80 443/tcp 8000-8010/udp\n')).toEqual([]);
  });
});
