import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { stat, writeFile } from 'node:fs/promises';
import { tempDir, mountsUnder } from '../support/tmp.js';
import { BUSYBOX_TAR, runCli } from '../support/cli.js';
import { makeTar } from './helpers.js';
import { busyboxFacts } from '../support/busybox-image.js';
import { humanSize } from '../../src/cli/commands/images-format.js';

// The suite's busybox image is made on this machine: its digests and size come from the archive.
const BB = busyboxFacts();
const BUSYBOX_ID = BB.id;
const SHORT = BB.id.slice(7, 19);
// Docker's size: the files in the layer, not its tar
const SIZE = humanSize(BB.contentSize);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let dir: { path: string; cleanup: () => Promise<void> };
let root: string;

beforeEach(async () => {
  dir = await tempDir('tb-cli-');
  root = join(dir.path, 'root');
});
afterEach(async () => {
  expect(await mountsUnder(dir.path)).toEqual([]);
  await dir.cleanup();
});

const cli = (args: string[], input?: Buffer) => runCli(args, { root, ...(input ? { input } : {}) });

describe('image commands', () => {
  test('load, images, inspect, history, tag, save, rmi', async () => {
    const load = await cli(['load', '-i', BUSYBOX_TAR]);
    expect(load).toMatchObject({ code: 0, stdout: 'Loaded image: busybox:local\n' });

    const images = await cli(['images']);
    expect(images.code).toBe(0);
    const lines = images.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^REPOSITORY\s{3,}TAG\s{3,}IMAGE ID\s{3,}CREATED\s{3,}SIZE$/);
    expect(lines[1]).toMatch(new RegExp(`^busybox\\s+local\\s+${SHORT}\\s+\\S.* ago\\s+${esc(SIZE)}$`));
    // columns line up under their headers
    expect(lines[1]!.indexOf(SHORT)).toBe(lines[0]!.indexOf('IMAGE ID'));

    expect((await cli(['images', '-q'])).stdout).toBe(`${SHORT}\n`);
    const json = JSON.parse((await cli(['images', '--format', 'json'])).stdout.trim());
    expect(json).toMatchObject({ Repository: 'busybox', Tag: 'local', ID: SHORT, Size: SIZE });

    const inspect = await cli(['inspect', 'busybox:local']);
    expect(inspect.code).toBe(0);
    const [info] = JSON.parse(inspect.stdout) as Array<Record<string, unknown>>;
    expect(Object.keys(info!)).toEqual([
      'Id', 'RepoTags', 'RepoDigests', 'Parent', 'Comment', 'Created', 'DockerVersion', 'Author', 'Config',
      'Architecture', 'Os', 'Size', 'GraphDriver', 'RootFS', 'Metadata',
    ]);
    expect(info).toMatchObject({
      Id: BUSYBOX_ID,
      RepoTags: ['busybox:local'],
      Architecture: 'amd64',
      Os: 'linux',
      Size: BB.contentSize,
      GraphDriver: { Name: 'overlay2' },
      RootFS: { Type: 'layers', Layers: [BB.diffId] },
      Config: { Cmd: ['/bin/sh'] },
    });
    expect((await cli(['inspect', '-f', '{{.Id}} {{json .RepoTags}}', 'busybox:local'])).stdout).toBe(`${BUSYBOX_ID} ["busybox:local"]\n`);
    const missing = await cli(['inspect', 'busybox:local', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No such object: nope');
    expect((await cli(['image', 'inspect', 'nope'])).stderr).toContain('No such image: nope');

    const history = await cli(['history', 'busybox:local']);
    const hl = history.stdout.split('\n');
    expect(hl[0]).toMatch(/^IMAGE\s{3,}CREATED\s{3,}CREATED BY\s{3,}SIZE\s{3,}COMMENT$/);
    expect(hl[1]).toMatch(new RegExp(`^${SHORT}\\s+.* ago\\s+Imported from -\\s+${esc(SIZE)}\\s*$`));
    const createdBy = hl[1]!.slice(hl[0]!.indexOf('CREATED BY'), hl[0]!.indexOf('SIZE')).trimEnd();
    expect(createdBy).toBe('Imported from -');
    const noTrunc = await cli(['history', '--no-trunc', '--format', 'json', 'busybox:local']);
    expect(JSON.parse(noTrunc.stdout.trim())).toMatchObject({ ID: BUSYBOX_ID, Size: SIZE });
    expect((await cli(['history', '-q', 'busybox:local'])).stdout).toBe(`${SHORT}\n`);
    // -H=false and --human=false (pflag's spellings): exact bytes and times
    for (const flag of [['-H=false'], ['--human=false'], ['-H', 'false']]) {
      const exact = await cli(['history', ...flag, '--format', '{{.Size}} {{.CreatedSince}}', 'busybox:local']);
      expect(exact.stdout).toMatch(/^\d+ \d{4}-\d\d-\d\dT/);
    }
    expect((await cli(['history', '-H=maybe', 'busybox:local'])).stderr).toContain('invalid argument "maybe" for "-H, --human" flag');

    expect((await cli(['tag', 'busybox:local', 'localhost:5000/bb:2'])).code).toBe(0);
    expect((await cli(['images', 'localhost:5000/bb'])).stdout).toMatch(new RegExp(`\\nlocalhost:5000/bb\\s+2\\s+${SHORT}`));

    const out = join(dir.path, 'bb.tar');
    expect((await cli(['save', '-o', out, 'busybox:local'])).code).toBe(0);
    expect((await stat(out)).size).toBeGreaterThan(BB.size);
    execFileSync('skopeo', ['inspect', `docker-archive:${out}`]);
    const oci = join(dir.path, 'bb.oci.tar');
    expect((await cli(['save', '--format', 'oci', '-o', oci, 'busybox:local'])).code).toBe(0);
    execFileSync('skopeo', ['inspect', `oci-archive:${oci}`]);

    const conflict = await cli(['rmi', SHORT.slice(0, 8)]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain(`conflict: unable to delete ${SHORT} (must be forced) - image is referenced in multiple repositories`);
    expect((await cli(['rmi', 'busybox:local'])).stdout).toBe('Untagged: busybox:local\n');
    const rmi = await cli(['rmi', 'localhost:5000/bb:2']);
    expect(rmi.stdout).toBe(
      `Untagged: localhost:5000/bb:2\nDeleted: ${BUSYBOX_ID}\nDeleted: ${BB.diffId}\n`,
    );
    expect((await cli(['images', '-q'])).stdout).toBe('');

    // load from stdin, the OCI layout this time
    const { readFile } = await import('node:fs/promises');
    const fromStdin = await cli(['load'], await readFile(oci));
    expect(fromStdin).toMatchObject({ code: 0, stdout: 'Loaded image: busybox:local\n' });
  });

  test('import and df', async () => {
    const rootfs = join(dir.path, 'rootfs.tar');
    await writeFile(rootfs, await makeTar([{ name: 'hello', content: 'hi\n' }]));
    const imp = await cli(['import', '-c', 'CMD ["/hello"]', '-c', 'ENV A=b', '-m', 'msg', rootfs, 'mine:1']);
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stdout).toMatch(/^sha256:[a-f0-9]{64}\n$/);
    const [info] = JSON.parse((await cli(['inspect', 'mine:1'])).stdout) as Array<{ Config: { Cmd: string[]; Env: string[] }; Comment: string }>;
    expect(info!.Config).toMatchObject({ Cmd: ['/hello'], Env: ['A=b'] });
    expect(info!.Comment).toBe('msg');
    const history = await cli(['history', 'mine:1']);
    expect(history.stdout.split('\n')[1]).toMatch(/^[a-f0-9]{12}\s+.*\s+Imported from -\s+\S+\s+msg$/);

    const id12 = imp.stdout.slice(7, 19);
    expect((await cli(['images', '-q', '-f', 'reference=mi*'])).stdout).toBe(`${id12}\n`);
    expect((await cli(['images', '-q', '-f', 'dangling=true'])).stdout).toBe('');
    expect((await cli(['images', '-q', '-f', 'label=nope'])).stdout).toBe('');
    expect((await cli(['images', '-f', 'bogus=1'])).code).toBe(1);

    const df = await cli(['df']);
    expect(df.code, df.stderr).toBe(0);
    const rows = df.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/);
    expect(rows.slice(1).map((r) => r.split(/\s{2,}/)[0])).toEqual(['Images', 'Containers', 'Local Volumes', 'Build Cache']);
    expect(rows[1]).toMatch(/^Images\s+1\s+0\s+\S+B\s+\S+B \(100%\)$/);

    const bad = await cli(['import', rootfs, 'Not Valid']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('invalid reference format');
  });
});
