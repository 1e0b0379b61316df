import { describe, expect, test } from 'vitest';
import { imageHistory, imageInspect, imageSummary } from '../../src/images/inspect.js';
import type { ImageRecord } from '../../src/images/types.js';
import { ellipsis, goTime, humanDuration, humanSize, since, table } from '../../src/cli/commands/images-format.js';
import { renderTemplate } from '../../src/cli/format/index.js';
import { sha256, type Digest } from '../../src/util/digest.js';

const d = (s: string): Digest => sha256(s);

const record: ImageRecord = {
  id: d('config'),
  config: {
    architecture: 'amd64',
    os: 'linux',
    created: '2024-03-04T05:06:07Z',
    comment: 'c',
    config: { Env: ['A=1'], Cmd: ['sh'], Labels: { k: 'v' } },
    rootfs: { type: 'layers', diff_ids: [d('l1'), d('l2')] },
    history: [
      { created: '2024-03-01T00:00:00Z', created_by: 'ADD rootfs /' },
      { created: '2024-03-02T00:00:00Z', created_by: 'ENV A=1', empty_layer: true },
      { created: '2024-03-04T05:06:07Z', created_by: 'RUN make', comment: 'buildkit.dockerfile.v0' },
    ],
  },
  layers: [
    { diffId: d('l1'), size: 1000, snapshot: 's1' },
    { diffId: d('l2'), size: 234, snapshot: 's2' },
  ],
  names: ['docker.io/library/app:1', 'localhost:5000/app:latest'],
  repoDigests: [`docker.io/library/app@${d('m')}`],
  created: '2024-05-01T00:00:00.000Z',
};

describe('Engine API shapes', () => {
  test('image inspect', () => {
    const i = imageInspect(record, { upper: '/r/snapshots/2/fs', lower: ['/r/snapshots/1/fs'] });
    expect(i).toMatchObject({
      Id: record.id,
      RepoTags: ['app:1', 'localhost:5000/app:latest'],
      RepoDigests: [`app@${d('m')}`],
      Comment: 'c',
      Created: '2024-03-04T05:06:07Z',
      Size: 1234,
      Config: { Env: ['A=1'], Cmd: ['sh'], Entrypoint: null, WorkingDir: '', Labels: { k: 'v' } },
      GraphDriver: { Name: 'overlay2', Data: { UpperDir: '/r/snapshots/2/fs', LowerDir: '/r/snapshots/1/fs' } },
      RootFS: { Type: 'layers', Layers: [d('l1'), d('l2')] },
      Metadata: { LastTagTime: record.created },
    });
    expect(imageSummary(record)).toMatchObject({ Id: record.id, Created: 1709528767, Size: 1234, RepoTags: ['app:1', 'localhost:5000/app:latest'] });
    // without a comment of its own, the newest history entry's (dockerd 26: an import's "imported from tarball")
    const { comment: _c, ...uncommented } = record.config;
    expect(imageInspect({ ...record, config: uncommented }).Comment).toBe('buildkit.dockerfile.v0');
    expect(imageInspect({ ...record, config: { ...uncommented, history: [] } }).Comment).toBe('');
  });

  test('history: newest first, empty layers have size 0, only the top row has the id', () => {
    const h = imageHistory(record);
    expect(h.map((r) => [r.Id, r.CreatedBy, r.Size])).toEqual([
      [record.id, 'RUN make', 234],
      ['<missing>', 'ENV A=1', 0],
      ['<missing>', 'ADD rootfs /', 1000],
    ]);
    expect(h[0]!.Tags).toEqual(['app:1', 'localhost:5000/app:latest']);
    expect(h[1]!.Tags).toBeNull();
    expect(h[0]!.Comment).toBe('buildkit.dockerfile.v0');
    // without history, one row per layer
    expect(imageHistory({ ...record, config: { ...record.config, history: [] } })).toHaveLength(2);
  });
});

describe('Docker CLI display', () => {
  test.each([
    [0, '0B'], [999, '999B'], [1000, '1kB'], [1234, '1.23kB'], [2129920, '2.13MB'], [12_345_678, '12.3MB'], [123_456_789, '123MB'], [5e9, '5GB'],
  ])('humanSize(%d) = %s', (n, s) => expect(humanSize(n)).toBe(s));

  test.each([
    [500, 'Less than a second'], [1000, '1 second'], [30_000, '30 seconds'], [60_000, 'About a minute'], [300_000, '5 minutes'],
    [3_600_000, 'About an hour'], [5 * 3_600_000, '5 hours'], [3 * 86_400_000, '3 days'], [20 * 86_400_000, '2 weeks'],
    [90 * 86_400_000, '3 months'], [800 * 86_400_000, '2 years'],
  ])('humanDuration(%d) = %s', (ms, s) => expect(humanDuration(ms)).toBe(s));

  test('since, goTime, ellipsis', () => {
    expect(since(undefined)).toBe('N/A');
    expect(since('2024-01-01T00:00:00Z', Date.parse('2024-01-01T00:00:30Z'))).toBe('30 seconds ago');
    expect(goTime('2024-01-02T03:04:05.678Z')).toBe('2024-01-02 03:04:05 +0000 UTC');
    expect(ellipsis('a'.repeat(46), 45)).toBe('a'.repeat(44) + '…');
    expect(ellipsis('short', 45)).toBe('short');
  });

  test('table pads every column but the last to max(10, width + 3)', () => {
    expect(table(['A', 'LONGER HEADER', 'Z'], [['x', 'y', 'last']])).toBe('A         LONGER HEADER   Z\nx         y               last\n');
  });

  test('Go template subset', () => {
    const data = { Id: 'sha256:x', Config: { Cmd: ['sh', '-c'], Env: null }, RepoTags: ['a:1'] };
    expect(renderTemplate('{{.Id}}', data)).toBe('sha256:x');
    expect(renderTemplate('{{json .Config.Cmd}}|{{.Config.Cmd}}|{{ .RepoTags }}', data)).toBe('["sh","-c"]|[sh -c]|[a:1]');
    expect(renderTemplate('{{.Missing}}\\t{{json .}}', { a: 1 })).toBe('<no value>\t{"a":1}');
  });
});
