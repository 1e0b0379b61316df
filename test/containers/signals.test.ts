import { describe, expect, it } from 'vitest';
import { parseSignal } from '../../src/containers/signals.js';
import { isTbuildError } from '../../src/errors.js';

describe('parseSignal', () => {
  it('takes the forms Docker takes, in the form runc kill takes', () => {
    expect(parseSignal('SIGKILL')).toBe('KILL');
    expect(parseSignal('kill')).toBe('KILL');
    expect(parseSignal('sigusr1')).toBe('USR1');
    expect(parseSignal('9')).toBe('9');
    expect(parseSignal('RTMIN+3')).toBe('37');
    expect(parseSignal('SIGRTMAX')).toBe('64');
  });

  it('refuses what is no signal with Docker\'s message', () => {
    for (const bad of ['BOGUS', '0', '65', 'RTMIN+40', '', 'SIG']) {
      let err: unknown;
      try {
        parseSignal(bad);
      } catch (e) {
        err = e;
      }
      expect(isTbuildError(err, 'TB_INVALID_ARGUMENT'), bad).toBe(true);
      expect((err as Error).message).toBe(`Invalid signal: ${bad}`);
    }
  });
});
