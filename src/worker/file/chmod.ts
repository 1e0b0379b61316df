import { TbuildError } from '../../errors.js';

/** A `--chmod` value compiled to a function of the source mode: (permission bits, isDir) → new bits. */
export type ModeFn = (mode: number, isDir: boolean) => number;

/**
 * Parse `--chmod`: octal (`0755`, `755`, `4755`) replaces the permission bits; symbolic
 * (`u+x,g-w,o=r`, `a=rX`, `+x`, chmod(1) syntax with `u g o a`, `+ - =`, `r w x X s t`, and copies
 * like `g=u`) edits the source's bits. `X` adds execute for directories and for files that already
 * have an execute bit. TB_INVALID_ARGUMENT on anything else.
 */
export function parseChmod(spec: string): ModeFn {
  const s = spec.trim();
  if (/^[0-7]{1,4}$/.test(s)) {
    const m = parseInt(s, 8);
    return () => m;
  }
  const clauses = s.split(',').map(parseClause(spec));
  return (mode, isDir) => clauses.reduce((m, c) => c(m, isDir), mode & 0o7777);
}

const WHO: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o1007, a: 0o7777 };

function parseClause(spec: string): (clause: string) => ModeFn {
  return (clause) => {
    const m = /^([ugoa]*)((?:[-+=](?:[ugo]|[rwxXst]*))+)$/.exec(clause);
    if (!m) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid --chmod ${JSON.stringify(spec)}: bad clause ${JSON.stringify(clause)}`);
    const who = m[1]!;
    // No `who` means `a` (we apply no umask: the result must not depend on the builder's environment).
    const mask = who === '' ? 0o7777 : [...who].reduce((acc, w) => acc | WHO[w]!, 0);
    const actions = [...m[2]!.matchAll(/([-+=])([ugo]|[rwxXst]*)/g)].map((a) => ({ op: a[1]!, perms: a[2]! }));
    return (mode, isDir) => {
      for (const { op, perms } of actions) {
        let bits = 0;
        if (/^[ugo]$/.test(perms)) {
          const shift = perms === 'u' ? 6 : perms === 'g' ? 3 : 0;
          const p = (mode >> shift) & 7;
          bits = (p << 6) | (p << 3) | p;
        } else {
          for (const p of perms) {
            if (p === 'r') bits |= 0o444;
            else if (p === 'w') bits |= 0o222;
            else if (p === 'x') bits |= 0o111;
            else if (p === 'X') {
              if (isDir || (mode & 0o111) !== 0) bits |= 0o111;
            } else if (p === 's') bits |= 0o6000;
            else if (p === 't') bits |= 0o1000;
          }
        }
        bits &= mask;
        if (op === '+') mode |= bits;
        else if (op === '-') mode &= ~bits;
        else mode = (mode & ~mask) | bits;
      }
      return mode & 0o7777;
    };
  };
}
