import { describe, expect, it } from 'vitest';
import { PythonHelper } from '../../src/util/python-helper.js';

const ECHO = String.raw`
import sys, json
for line in sys.stdin:
    sys.stdout.write(json.dumps({'ok': json.loads(line)}) + '\n')
    sys.stdout.flush()
`;

describe('PythonHelper', () => {
  it('answers requests in order', async () => {
    const h = new PythonHelper('echo helper', ECHO, 50);
    const answers = await Promise.all([1, 2, 3].map((n) => h.request({ n })));
    expect(answers).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
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
    const h = new PythonHelper('dying helper', 'import sys; sys.stdin.readline(); sys.exit(3)', undefined);
    await expect(h.request({})).rejects.toThrow(/dying helper \(.*python3\) exited \(3\)/);
    expect(h.running).toBe(false);
  });
});
