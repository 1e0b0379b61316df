import { describe, expect, test } from 'vitest';
import { humanDuration, unixSeconds, ZERO_TIME } from '../../src/util/time.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe('go-units HumanDuration', () => {
  test.each([
    [0, 'Less than a second'],
    [999, 'Less than a second'],
    [1000, '1 second'],
    [59_999, '59 seconds'],
    [MIN, 'About a minute'],
    [2 * MIN, '2 minutes'],
    [59 * MIN, '59 minutes'],
    [89 * MIN, 'About an hour'],
    // hours round half up: 1h30m is 2 hours
    [90 * MIN, '2 hours'],
    [47 * HOUR, '47 hours'],
    [48 * HOUR, '2 days'],
    [13 * DAY, '13 days'],
    [14 * DAY, '2 weeks'],
    [59 * DAY, '8 weeks'],
    [60 * DAY, '2 months'],
    [729 * DAY, '24 months'],
    [730 * DAY, '2 years'],
    // the year count truncates the exact hours
    [365 * 3 * DAY - HOUR, '2 years'],
  ])('%d ms → %s', (ms, text) => expect(humanDuration(ms)).toBe(text));
});

describe('unixSeconds', () => {
  test('ISO → whole seconds; missing or unparsable → 0', () => {
    expect(unixSeconds('2024-03-04T05:06:07.900Z')).toBe(1709528767);
    expect(unixSeconds(undefined)).toBe(0);
    expect(unixSeconds('not a time')).toBe(0);
    expect(unixSeconds(ZERO_TIME)).toBeLessThan(0);
  });
});
