import { describe, expect, test } from 'vitest';
import { findings } from './helpers.js';

describe('UndefinedVar', () => {
  test('use before declaration warns', () => {
    expect(findings('FROM alpine\nCOPY $foo .\nARG foo=bar\nRUN echo $foo\n', 'UndefinedVar')).toEqual([
      "UndefinedVar@2: Usage of undefined variable '$foo'",
    ]);
  });
  test('a near name is suggested', () => {
    expect(findings('FROM alpine\nARG DIR_BINARIES=binaries/\nARG DIR_ASSETS=assets/\nCOPY $DIR_ASSET .\n', 'UndefinedVar')).toEqual([
      "UndefinedVar@4: Usage of undefined variable '$DIR_ASSET' (did you mean $DIR_ASSETS?)",
    ]);
    expect(findings('FROM alpine\nENV PATH=$PAHT:/tmp/bin\n', 'UndefinedVar')).toEqual([
      "UndefinedVar@2: Usage of undefined variable '$PAHT' (did you mean $PATH?)",
    ]);
  });
  test('same-instruction ENV references see the old scope', () => {
    expect(findings('FROM alpine\nENV A=1 B=$A\n', 'UndefinedVar')).toEqual(["UndefinedVar@2: Usage of undefined variable '$A'"]);
  });
  test('ARG defaults see earlier declarations of the same instruction', () => {
    expect(findings('FROM alpine\nARG A=1 B=$A\nARG C=$UNKNOWNVAR\n', 'UndefinedVar')).toEqual(["UndefinedVar@3: Usage of undefined variable '$UNKNOWNVAR'"]);
  });
  test('declared ARGs (even without value), inherited ones, PATH and RUN are fine', () => {
    const ok = [
      'FROM scratch\nARG foo\nCOPY Dockerfile${foo} .\n',
      'FROM alpine AS base\nARG foo=Dockerfile\nFROM base\nCOPY $foo .\n',
      'FROM alpine\nRUN echo $PATH $NOPE\n',
      'FROM alpine\nENV X=1\nWORKDIR /$X\nUSER $X\nVOLUME /$X\nLABEL a=$X\n',
      'FROM alpine\nARG BUILDKIT_SBOM_SCAN_STAGE\nLABEL x=$BUILDKIT_SBOM_SCAN_STAGE\n',
    ];
    for (const df of ok) expect(findings(df, 'UndefinedVar'), df).toEqual([]);
  });
  test('base image env known through opts.baseImage', () => {
    const df = 'FROM golang\nENV X=$GOPATH/bin\n';
    expect(findings(df, 'UndefinedVar')).toHaveLength(1);
    expect(findings(df, 'UndefinedVar', { baseImage: () => ({ env: ['GOPATH=/go'] }) })).toEqual([]);
  });
  test('words of COPY flags, RUN mounts and STOPSIGNAL are checked', () => {
    expect(findings('FROM alpine\nCOPY --chown=$U:$G a /b\nRUN --mount=type=cache,target=$C true\nSTOPSIGNAL $S\n', 'UndefinedVar')).toEqual([
      "UndefinedVar@2: Usage of undefined variable '$U'",
      "UndefinedVar@2: Usage of undefined variable '$G'",
      "UndefinedVar@3: Usage of undefined variable '$C'",
      "UndefinedVar@4: Usage of undefined variable '$S'",
    ]);
  });
});

describe('SecretsUsedInArgOrEnv', () => {
  test('secret-looking names warn', () => {
    expect(findings('FROM scratch\nARG SECRET_PASSPHRASE\nENV SUPER_Secret=foo\nENV github_token=x\nARG AWS_SECRET_KEY\n', 'SecretsUsedInArgOrEnv')).toEqual([
      'SecretsUsedInArgOrEnv@2: Do not use ARG or ENV instructions for sensitive data (ARG "SECRET_PASSPHRASE")',
      'SecretsUsedInArgOrEnv@3: Do not use ARG or ENV instructions for sensitive data (ENV "SUPER_Secret")',
      'SecretsUsedInArgOrEnv@4: Do not use ARG or ENV instructions for sensitive data (ENV "github_token")',
      'SecretsUsedInArgOrEnv@5: Do not use ARG or ENV instructions for sensitive data (ARG "AWS_SECRET_KEY")',
    ]);
  });
  test('allowed or partial words are fine', () => {
    expect(findings('FROM scratch\nARG PUBLIC_KEY\nENV PASSWORD_FILE=/run/x\nARG KEY_VERSION\nENV MONKEY=1 TOKENS=2\n', 'SecretsUsedInArgOrEnv')).toEqual([]);
  });
});
