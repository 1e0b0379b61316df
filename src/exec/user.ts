import { readFileSync } from 'node:fs';
import { TbuildError } from '../errors.js';
import { resolveInRootSync } from '../util/confine.js';

/** The numeric identity a container process runs as, resolved against the rootfs' passwd/group files. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups (from /etc/group membership, only when no group was given explicitly). */
  additionalGids: number[];
  home: string;
  /** Login name when the passwd file knows the uid. */
  name?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 2 ** 31 - 1;

function parseId(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

/** Synchronous on purpose: two tiny files on the container-start hot path, no threadpool round trips. */
function readEtc(rootfs: string, file: string): string {
  try {
    return readFileSync(resolveInRootSync(rootfs, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return '';
    throw err;
  }
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4) continue;
    const uid = parseId(f[2]!);
    const gid = parseId(f[3]!);
    if (uid === undefined || gid === undefined) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5] || '/' });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3) continue;
    const gid = parseId(f[2]!);
    if (gid === undefined) continue;
    out.push({ name: f[0]!, gid, members: (f[3] ?? '').split(',').filter(Boolean) });
  }
  return out;
}

function splitSpec(user: string): [string, string | undefined] {
  const i = user.indexOf(':');
  return i < 0 ? [user, undefined] : [user.slice(0, i), user.slice(i + 1)];
}

function unknownUser(name: string): TbuildError {
  return new TbuildError('TB_USER_UNKNOWN', `unable to find user ${name}: no matching entries in passwd file`, {
    details: { user: name },
  });
}

function unknownGroup(name: string): TbuildError {
  return new TbuildError('TB_USER_UNKNOWN', `unable to find group ${name}: no matching entries in group file`, {
    details: { group: name },
  });
}

function lookupGroup(groups: GroupEntry[], spec: string): number {
  const byName = groups.find((g) => g.name === spec);
  if (byName) return byName.gid;
  const id = parseId(spec);
  if (id !== undefined) return id;
  throw unknownGroup(spec);
}

/**
 * Resolve a USER / `-u` string the way Docker does (runc's GetExecUser rules): a name must exist in
 * the passwd file; a numeric uid needs no entry (gid 0, HOME `/`); `user:group` takes the group by
 * name or number and then adds no supplementary groups ("they only make sense in the implicit form").
 */
export async function resolveUser(rootfs: string, user: string): Promise<ResolvedUser> {
  const [userPart, groupPart] = splitSpec(user.trim());
  const passwd = parsePasswd(readEtc(rootfs, '/etc/passwd'));
  const needGroups = groupPart !== undefined ? parseId(groupPart) === undefined : true;
  const groups = needGroups ? parseGroup(readEtc(rootfs, '/etc/group')) : [];

  let entry: PasswdEntry | undefined;
  let uid: number;
  if (userPart === '') {
    uid = 0;
    entry = passwd.find((p) => p.uid === 0);
  } else {
    entry = passwd.find((p) => p.name === userPart);
    if (entry) uid = entry.uid;
    else {
      const id = parseId(userPart);
      if (id === undefined) throw unknownUser(userPart);
      uid = id;
      entry = passwd.find((p) => p.uid === id);
    }
  }

  let gid = entry?.gid ?? 0;
  let additionalGids: number[] = [];
  if (groupPart !== undefined && groupPart !== '') {
    gid = lookupGroup(groups, groupPart);
  } else if (entry) {
    additionalGids = groups.filter((g) => g.members.includes(entry!.name)).map((g) => g.gid);
  }
  // Docker lists the primary group first among the process' groups; setgroups wants no duplicates.
  additionalGids = [...new Set([gid, ...additionalGids])];
  return { uid, gid, additionalGids, home: entry?.home ?? '/', ...(entry ? { name: entry.name } : {}) };
}

/**
 * Resolve COPY/ADD `--chown=user[:group]` as BuildKit does: a name takes uid and primary gid from
 * passwd; a bare numeric uid also becomes the gid; an explicit group is looked up by name or number.
 */
export async function resolveChown(rootfs: string, spec: string): Promise<{ uid: number; gid: number }> {
  const [userPart, groupPart] = splitSpec(spec.trim());
  let uid: number;
  let gid: number;
  const numericUser = parseId(userPart);
  if (numericUser !== undefined) {
    uid = gid = numericUser;
  } else {
    if (userPart === '') throw new TbuildError('TB_INVALID_ARGUMENT', `invalid chown spec ${JSON.stringify(spec)}`);
    const entry = parsePasswd(readEtc(rootfs, '/etc/passwd')).find((p) => p.name === userPart);
    if (!entry) throw unknownUser(userPart);
    uid = entry.uid;
    gid = entry.gid;
  }
  if (groupPart !== undefined && groupPart !== '') {
    const id = parseId(groupPart);
    gid = id ?? lookupGroup(parseGroup(readEtc(rootfs, '/etc/group')), groupPart);
  }
  return { uid, gid };
}
