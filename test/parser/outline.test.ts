import { test, expect } from 'vitest';
import { parseDockerfile } from '../../src/parser/parse.js';
import { resolveDockerfile } from '../../src/parser/resolve.js';
import { outline, formatOutline } from '../../src/parser/outline.js';

const text = [
  'ARG TAG=3',
  'FROM busybox:$TAG AS unused',
  'RUN --mount=type=secret,id=never true',
  'FROM busybox AS main',
  'ARG NAME=x',
  'ARG NAMES',
  'COPY <<EOF /greeting',
  'hello ${NAME}',
  'EOF',
  "COPY <<'RAW' /raw",
  '$NAMES stays',
  'RAW',
  'RUN echo $NAMES_SUFFIX',
  'RUN --mount=type=secret,id=a --mount=type=secret,id=a,required=true --mount=type=secret,id=$V echo $NAMES',
  '',
].join('\n');

test('usage follows whole names, expanding heredocs only; only needed stages give secrets', () => {
  const o = outline(resolveDockerfile(parseDockerfile(text), { buildArgs: { TAG: '4' } }));
  expect(o.globalArgs).toEqual([{ name: 'TAG', line: 1, usedAt: [2], default: '3', value: '4' }]);
  expect(o.stages[0]).toMatchObject({ name: 'unused', base: 'busybox:4', needed: false });
  expect(o.stages[1]!.args).toEqual([
    { name: 'NAME', line: 5, usedAt: [7], default: 'x' },
    { name: 'NAMES', line: 6, usedAt: [14] },
  ]);
  expect(o.secrets).toEqual([{ id: 'a', required: true, lines: [14] }]);
  expect(o.ssh).toEqual([]);
  const txt = formatOutline(o, 'Dockerfile');
  expect(txt).toContain('#0 unused: FROM busybox:4  line 2  (not needed for the target)');
  expect(txt).toContain('  ARG NAMES  line 6, used at 14');
  expect(txt).toContain('  ARG TAG=3  (value: 4)  line 1, used at 2');
});
