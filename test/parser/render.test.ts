import { test, expect, describe } from 'vitest';
import { renderSnippet, registerSource } from '../../src/parser/render.js';
import { renderError } from '../../src/cli/render-error.js';
import { parseDockerfile } from '../../src/parser/parse.js';
import { TbuildError } from '../../src/errors.js';

const SRC = ['FROM busybox:local', 'WORKDIR /app', 'RUN echo a', 'RUN echo about-to-fail && exit 7', 'RUN echo b', 'CMD ["sh"]', 'LABEL x=1', 'LABEL y=2', ''].join('\n');

describe('renderSnippet', () => {
  test('one failing line: file:line, four lines of context, >>> on it', () => {
    expect(renderSnippet(SRC, { startLine: 4, endLine: 4 }, 'Dockerfile')).toBe(
      [
        'Dockerfile:4',
        '--------------------',
        '   2 |     WORKDIR /app',
        '   3 |     RUN echo a',
        '   4 | >>> RUN echo about-to-fail && exit 7',
        '   5 |     RUN echo b',
        '   6 |     CMD ["sh"]',
        '--------------------',
        '',
      ].join('\n'),
    );
  });

  test('a range at the top and at the end of the file', () => {
    const top = renderSnippet(SRC, { startLine: 1, endLine: 1 });
    expect(top.split('\n').slice(2, 7)).toEqual([
      '   1 | >>> FROM busybox:local',
      '   2 |     WORKDIR /app',
      '   3 |     RUN echo a',
      '   4 |     RUN echo about-to-fail && exit 7',
      '   5 |     RUN echo b',
    ]);
    const end = renderSnippet(SRC, { startLine: 8, endLine: 8 });
    expect(end).toContain('   8 | >>> LABEL y=2\n--------------------');
    expect(end).toContain('   4 |     RUN');
  });

  test('multi-line range marks every line', () => {
    const src = 'FROM a\nRUN one \\\n  two \\\n  three\nRUN x\n';
    const out = renderSnippet(src, { startLine: 2, endLine: 4 }, 'ctx/Dockerfile');
    expect(out.startsWith('ctx/Dockerfile:2\n')).toBe(true);
    expect(out).toContain('   2 | >>> RUN one \\\n   3 | >>>   two \\\n   4 | >>>   three\n');
  });
});

describe('renderError', () => {
  test('a parse error renders the snippet, then ERROR', () => {
    let err: unknown;
    try {
      parseDockerfile('FROM busybox:local\nRUN true\nFROBNICATE now\nRUN x\n', { file: 'Dockerfile' });
    } catch (e) {
      err = e;
    }
    const out = renderError(err);
    expect(out).toContain('Dockerfile:3\n');
    expect(out).toContain('   3 | >>> FROBNICATE now');
    expect(out).toContain('   2 |     RUN true');
    expect(out.trimEnd().split('\n').pop()).toBe('ERROR: unknown instruction: FROBNICATE');
  });

  test('a build error with only range+file finds the source the parser registered', () => {
    parseDockerfile('FROM busybox:local\nRUN echo about-to-fail && exit 7\n', { file: 'build/Dockerfile.test' });
    const err = new TbuildError('TB_EXEC_NONZERO', 'process "/bin/sh -c echo about-to-fail && exit 7" did not complete successfully: exit code: 7', {
      range: { startLine: 2, endLine: 2 },
      file: 'build/Dockerfile.test',
    });
    const out = renderError(err);
    expect(out).toContain('build/Dockerfile.test:2\n');
    expect(out).toContain('   2 | >>> RUN echo about-to-fail && exit 7');
    expect(out).toContain('ERROR: process');
  });

  test('registered sources and details.source; errors without a source print only the message', () => {
    registerSource('other', 'FROM a\nRUN b\n');
    const viaRegistry = renderError(new TbuildError('TB_BUILD_FAILED', 'boom', { range: { startLine: 2, endLine: 2 }, file: 'other' }));
    expect(viaRegistry).toContain('   2 | >>> RUN b');
    const viaDetails = renderError(new TbuildError('TB_BUILD_FAILED', 'boom', { range: { startLine: 1, endLine: 1 }, file: 'nowhere', details: { source: 'FROM z\n' } }));
    expect(viaDetails).toContain('   1 | >>> FROM z');
    expect(renderError(new TbuildError('TB_BUILD_FAILED', 'plain', { range: { startLine: 1, endLine: 1 }, file: 'unknown-file' }))).toBe('ERROR: plain\n');
    expect(renderError(new Error('generic'))).toBe('ERROR: generic\n');
  });
});
