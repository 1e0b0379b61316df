import { test, expect } from 'vitest';
import { editDistance, suggest, withSuggestion } from '../../src/parser/suggest.js';
import { parseGoDuration } from '../../src/parser/duration.js';
import { INSTRUCTION_NAMES } from '../../src/parser/parse.js';

test('edit distance counts a swap of neighbours as one edit', () => {
  expect(editDistance('kitten', 'sitting')).toBe(3);
  expect(editDistance('cahce', 'cache')).toBe(1);
  expect(editDistance('', 'abc')).toBe(3);
  expect(editDistance('same', 'same')).toBe(0);
});

test('suggestions scale with the word and ignore case unless asked', () => {
  expect(suggest('FNTRYPOINT', INSTRUCTION_NAMES)).toBe('ENTRYPOINT');
  expect(suggest('cpy', INSTRUCTION_NAMES)).toBe('COPY');
  expect(suggest('WORKDIRR', INSTRUCTION_NAMES)).toBe('WORKDIR');
  expect(suggest('FROBNICATE', INSTRUCTION_NAMES)).toBeUndefined();
  expect(suggest('x', ['y'])).toBeUndefined();
  expect(suggest('Mount', ['mount'], true)).toBe('mount');
  expect(suggest('', ['a'])).toBeUndefined();
  expect(withSuggestion('unknown flag: mont', 'mont', ['mount', 'network'])).toEqual({ message: 'unknown flag: mont (did you mean mount?)', suggestion: 'mount' });
  expect(withSuggestion('unknown flag: zzz', 'zzz', ['mount'])).toEqual({ message: 'unknown flag: zzz' });
});

test('Go durations to nanoseconds', () => {
  expect(parseGoDuration('0')).toBe(0);
  expect(parseGoDuration('30s')).toBe(30e9);
  expect(parseGoDuration('1m30s')).toBe(90e9);
  expect(parseGoDuration('1.5h')).toBe(5400e9);
  expect(parseGoDuration('300ms')).toBe(300e6);
  expect(parseGoDuration('2us')).toBe(2000);
  expect(parseGoDuration('2µs')).toBe(2000);
  expect(parseGoDuration('10ns')).toBe(10);
  expect(parseGoDuration('.5s')).toBe(5e8);
  expect(parseGoDuration('1h2m3s4ms')).toBe(3723004e6);
  expect(parseGoDuration('-1s')).toBe(-1e9);
  for (const bad of ['', '10', 's', '1x', '1.s.', '1d', '--1s', '.s']) expect(parseGoDuration(bad), bad).toBeUndefined();
});
