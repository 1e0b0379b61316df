import { describe, expect, it } from 'vitest';
import { PythonHelper } from '../../src/util/python-helper.js';

const ECHO = String.raw`
def handle(req):
    if req.get('fail'):
        raise ValueError('asked to fail')
    return req
`;

describe('PythonHelper', () => {
  it('answers requests in order; what handle raises rejects only its own request', async () => {
    const h = new PythonHelper('echo helper', ECHO, 50);
    const answers = [1, 2, 3].map((n) => h.request({ n, fail: n === 2 }));
    await expect(answers[0]).resolves.toEqual({ n: 1, fail: false });
    await expect(answers[1]).rejects.toThrow(/echo helper: ValueError\('asked to fail'\)/);
    await expect(answers[2]).resolves.toEqual({ n: 3, fail: false });
  });

  it('a request sent while an idle-stopped process is still exiting goes to a new process and is answered', async () => {
    // The old process's exit used to reject every pending request, the new process's included.
    const h = new PythonHelper('echo helper', ECHO, 5);
    for (let round = 0; round < 20; round++) {
      await h.request({ round });
      while (h.running) await new Promise((r) => setImmediate(r));
      // the idle stop has just closed the old process's stdin; it has not exited yet
      await expect(h.request({ round, again: true })).resolves.toEqual({ round, again: true });
    }
  });

  it('a process that dies rejects what it owed with its name and exit status', async () => {
    const h = new PythonHelper('dying helper', 'import sys\ndef handle(req):\n    sys.exit(3)\n', undefined);
    await expect(h.request({})).rejects.toThrow(/dying helper \(.*python3\) exited \(3\)/);
    expect(h.running).toBe(false);
  });
});
