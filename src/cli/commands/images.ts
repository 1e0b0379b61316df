import { checkFilterNames, filtersFromFlags } from '../../util/filters.js';
import { selectImages } from '../../api/image-filters.js';
import { IMAGE_PRUNE_FILTERS } from '../../images/prune.js';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { byteMeter } from '../progress/bytes.js';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { CliContext, RegisterCommand } from '../context.js';
import type { EngineApi } from '../../api/types.js';
import type { ImageRecord } from '../../images/types.js';
import { imageHistory, imageSize, shortId } from '../../images/inspect.js';
import { confirm, renderDiskUsage } from './images-df.js';
import { familiarRepository, parseReference, repositoryName } from '../../images/reference.js';
import { renderError } from '../render-error.js';
import { TbuildError } from '../../errors.js';
import { ellipsis, goTime, humanSize, since } from './images-format.js';
import { formatList, Template } from '../format/index.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function out(ctx: CliContext, text: string): void {
  ctx.stdout.write(text);
}

/** `tbuild import`, `images`, `inspect`, `history`, `tag`, `rmi`, `df`, and the same under `image …`. */
export const registerImageCommands: RegisterCommand = (program, ctx) => {
  const image = program.command('image').description('manage images');
  for (const [parent, names] of [
    [program, { ls: 'images', rm: 'rmi' }],
    [image, { ls: 'ls', rm: 'rm' }],
  ] as const) {
    addImport(parent, ctx);
    addList(parent, ctx, names.ls);
    addInspect(parent, ctx);
    addHistory(parent, ctx);
    addTag(parent, ctx);
    addRemove(parent, ctx, names.rm);
  }
  image
    .command('prune')
    .description('remove dangling images (with -a, every image no container uses)')
    .option('-a, --all', 'remove all images not used by a container, not just dangling ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values (e.g. "until=<timestamp>", "label=<key>=<value>")', collect, [])
    .action(async (opts: { all?: boolean; force?: boolean; filter: string[] }) => {
      const filters = filtersFromFlags(opts.filter);
      checkFilterNames(filters, IMAGE_PRUNE_FILTERS);
      if (!opts.force && !(await confirm(ctx, opts.all))) return;
      const engine = await ctx.engine();
      const res = await engine.pruneImages({ all: Boolean(opts.all), filters });
      if (res.ImagesDeleted.length) {
        out(ctx, 'Deleted Images:\n');
        for (const it of res.ImagesDeleted) out(ctx, it.Untagged ? `untagged: ${it.Untagged}\n` : `deleted: ${it.Deleted}\n`);
        out(ctx, '\n');
      }
      out(ctx, `Total reclaimed space: ${humanSize(res.SpaceReclaimed)}\n`);
    });
  program
    .command('df')
    .description('show disk usage (images, containers, local volumes, build cache)')
    .option('--format <format>', 'table, json, or a Go template')
    .action(async (opts: { format?: string }) => {
      const engine = await ctx.engine();
      renderDiskUsage(await engine.df(), ctx, opts.format);
    });
};

function addImport(parent: Command, ctx: CliContext): void {
  parent
    .command('import')
    .description('create an image from a filesystem tarball ("-" reads stdin)')
    .argument('<file>', 'rootfs tar (plain, gzip, bzip2, xz or zstd), or - for stdin')
    .argument('[reference]', 'NAME[:TAG] for the new image')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction to the image config', collect, [])
    .option('-m, --message <message>', 'commit message for the imported image')
    .option('--platform <platform>', 'set the platform (os/arch[/variant])')
    .action(async (file: string, reference: string | undefined, opts: { change: string[]; message?: string; platform?: string }) => {
      const engine = await ctx.engine();
      const source: Readable = file === '-' ? process.stdin : createReadStream(file);
      const total = file === '-' ? undefined : (await stat(file)).size;
      const meter = byteMeter('Importing', ctx.stderr as NodeJS.WriteStream, total !== undefined ? { total } : {});
      source.on('error', (err) => meter.counter.destroy(err));
      const input: Readable = source.pipe(meter.counter);
      const img = await engine.importImage(input, {
        ...(reference ? { name: reference } : {}),
        changes: opts.change,
        ...(opts.message ? { message: opts.message } : {}),
        ...(opts.platform ? { platform: opts.platform } : {}),
      });
      meter.done();
      out(ctx, `${img.id}\n`);
    });
}

interface ListOptions {
  filter?: string[];
  quiet?: boolean;
  all?: boolean;
  noTrunc?: boolean;
  digests?: boolean;
  format?: string;
}

function addList(parent: Command, ctx: CliContext, name: string): void {
  parent
    .command(name)
    .aliases(name === 'ls' ? ['list'] : [])
    .description('list images')
    .argument('[repository]', 'show only images of REPOSITORY[:TAG]')
    .option('-a, --all', 'show all images (intermediate images are not kept, so the same as without)')
    .option('-q, --quiet', 'only show image IDs')
    .option('--no-trunc', 'do not truncate output')
    .option('--digests', 'show digests')
    .option('--format <format>', 'table, json, or a Go template')
    .option('-f, --filter <filter>', 'filter output based on conditions provided (dangling, label, reference, before, since, until)', collect, [])
    .action(async (repository: string | undefined, opts: ListOptions) => {
      const engine = await ctx.engine();
      const images = await selectImages(await engine.images.list(), filtersFromFlags(opts.filter ?? []), (ref) => engine.images.resolve(ref));
      listImages(images, ctx, repository, opts);
    });
}

interface ListRow {
  Repository: string;
  Tag: string;
  Digest: string;
  ID: string;
  CreatedSince: string;
  CreatedAt: string;
  Size: string;
  img: ImageRecord;
}

function listRows(images: ImageRecord[], repository: string | undefined, noTrunc: boolean): ListRow[] {
  let filter: { repo: string; tag?: string } | undefined;
  if (repository) {
    const ref = parseReference(repository);
    filter = { repo: repositoryName(ref), ...(ref.tag !== undefined ? { tag: ref.tag } : {}) };
  }
  const rows: ListRow[] = [];
  for (const img of images) {
    const base = {
      ID: noTrunc ? img.id : shortId(img.id),
      CreatedSince: since(img.config.created),
      CreatedAt: goTime(img.config.created),
      Size: humanSize(imageSize(img)),
      Digest: '<none>',
      img,
    };
    const tags = img.names.filter((n) => !n.includes('@'));
    if (!tags.length && !filter) {
      // Only digests left: Docker shows the repository with a <none> tag.
      const digestRepos = [...new Set(img.repoDigests.map((d) => d.slice(0, d.indexOf('@'))))];
      if (!digestRepos.length) rows.push({ ...base, Repository: '<none>', Tag: '<none>' });
      for (const repo of digestRepos) {
        const d = img.repoDigests.find((x) => x.startsWith(`${repo}@`))!;
        rows.push({ ...base, Repository: familiarRepository(d), Tag: '<none>', Digest: d.slice(d.indexOf('@') + 1) });
      }
    }
    for (const n of tags) {
      const ref = parseReference(n);
      if (filter && (repositoryName(ref) !== filter.repo || (filter.tag !== undefined && ref.tag !== filter.tag))) continue;
      const digest = img.repoDigests.find((d) => repositoryName(parseReference(d)) === repositoryName(ref));
      rows.push({
        ...base,
        Repository: familiarRepository(ref),
        Tag: ref.tag ?? '<none>',
        Digest: digest ? digest.slice(digest.indexOf('@') + 1) : '<none>',
      });
    }
  }
  return rows;
}

export function listImages(images: ImageRecord[], ctx: CliContext, repository: string | undefined, opts: ListOptions): void {
  const rows = listRows(images, repository, Boolean(opts.noTrunc));
  if (opts.quiet) {
    out(ctx, rows.map((r) => `${r.ID}\n`).join(''));
    return;
  }
  const display = rows.map((r) => ({
    Containers: 'N/A',
    CreatedAt: r.CreatedAt,
    CreatedSince: r.CreatedSince,
    Digest: r.Digest,
    ID: r.ID,
    Repository: r.Repository,
    SharedSize: 'N/A',
    Size: r.Size,
    Tag: r.Tag,
    UniqueSize: 'N/A',
    VirtualSize: r.Size,
  }));
  const columns = opts.digests
    ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
    : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
  out(ctx, formatList(opts.format ?? ctx.config.imagesFormat, display, { table: columns, headers: IMAGE_HEADERS }));
}

const IMAGE_HEADERS = {
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  ID: 'IMAGE ID',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  VirtualSize: 'VIRTUAL SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
  Containers: 'CONTAINERS',
};

function addInspect(parent: Command, ctx: CliContext): void {
  parent
    .command('inspect')
    .description('display detailed information on images (or containers, as `docker inspect` does)')
    .argument('<name...>', 'image or container')
    .option('-f, --format <format>', 'format output using a Go template, or json')
    .option('--type <type>', 'only look for this type: image or container')
    .action(async (refs: string[], opts: { format?: string; type?: string }) => {
      if (parent.name() === 'image') opts.type = 'image';
      if (opts.type && opts.type !== 'image' && opts.type !== 'container') {
        throw new TbuildError('TB_INVALID_ARGUMENT', `"${opts.type}" is not a valid value for --type`);
      }
      const engine = await ctx.engine();
      const found: Array<Record<string, unknown>> = [];
      let failed = false;
      for (const ref of refs) {
        const obj = await inspectOne(engine, ref, opts.type);
        if (!obj) {
          failed = true;
          const what = opts.type === 'image' ? 'image' : opts.type === 'container' ? 'container' : 'object';
          ctx.stderr.write(renderError(new TbuildError('TB_IMAGE_NOT_FOUND', `No such ${what}: ${ref}`)));
          continue;
        }
        found.push(obj);
      }
      if (opts.format && opts.format !== 'json') {
        const template = new Template(opts.format);
        for (const f of found) out(ctx, template.render(f) + '\n');
      } else if (found.length || !failed) {
        out(ctx, JSON.stringify(found, null, 4) + '\n');
      }
      if (failed) ctx.setExitCode(1);
    });
}

/** An image first (as Docker's `inspect` without --type), then a container. */
async function inspectOne(engine: EngineApi, ref: string, type: string | undefined): Promise<Record<string, unknown> | undefined> {
  if (type !== 'container') {
    const img = await engine.images.get(ref);
    if (img) return engine.inspectImage(img.id);
  }
  if (type !== 'image') {
    const c = await engine.containers.get(ref).catch(() => undefined);
    if (c) {
      const { containerInspect } = await import('../../api/shapes/containers.js');
      const img = await engine.images.get(c.imageId).catch(() => undefined);
      return containerInspect(c, img?.config.config, []);
    }
  }
  return undefined;
}

function addHistory(parent: Command, ctx: CliContext): void {
  parent
    .command('history')
    .description('show the history of an image')
    .argument('<image>')
    .option('--no-trunc', 'do not truncate output')
    .option('-q, --quiet', 'only show image IDs')
    .option('-H, --human [bool]', 'print sizes and dates in human readable format', 'true')
    .option('--format <format>', 'table, json, or a Go template')
    .action(async (ref: string, opts: { trunc: boolean; quiet?: boolean; human: string | boolean; format?: string }) => {
      const engine = await ctx.engine();
      const img = await engine.images.resolve(ref);
      // `-H=false` (pflag's spelling) reaches us as "=false"
      const flag = String(opts.human).replace(/^=/, '');
      if (!['true', 'false', '1', '0'].includes(flag)) throw new TbuildError('TB_INVALID_ARGUMENT', `invalid argument "${flag}" for "-H, --human" flag: want true or false`);
      const human = flag === 'true' || flag === '1';
      const noTrunc = opts.trunc === false;
      const rows = imageHistory(img).map((h) => {
        const createdIso = h.Created ? new Date(h.Created * 1000).toISOString().replace('.000Z', 'Z') : undefined;
        const createdBy = h.CreatedBy.replace(/\t/g, ' ');
        return {
          ID: h.Id === '<missing>' ? h.Id : noTrunc ? h.Id : shortId(h.Id),
          CreatedSince: human ? since(createdIso) : (createdIso ?? ''),
          CreatedAt: createdIso ?? '',
          CreatedBy: noTrunc ? createdBy : ellipsis(createdBy, 45),
          Size: human ? humanSize(h.Size) : String(h.Size),
          Comment: h.Comment,
        };
      });
      if (opts.quiet) {
        out(ctx, rows.map((r) => `${r.ID}\n`).join(''));
        return;
      }
      out(
        ctx,
        formatList(opts.format, rows, {
          table: 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}',
          headers: { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' },
        }),
      );
    });
}

function addTag(parent: Command, ctx: CliContext): void {
  parent
    .command('tag')
    .description('create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<source>', 'SOURCE_IMAGE[:TAG]')
    .argument('<target>', 'TARGET_IMAGE[:TAG]')
    .action(async (source: string, target: string) => {
      const engine = await ctx.engine();
      await engine.images.tag(source, target);
    });
}

function addRemove(parent: Command, ctx: CliContext, name: string): void {
  parent
    .command(name)
    .aliases(name === 'rm' ? ['remove'] : [])
    .description('remove one or more images')
    .argument('<image...>')
    .option('-f, --force', 'force removal of the image')
    .option('--no-prune', 'do not delete untagged parents (accepted; there are none)')
    .action(async (refs: string[], opts: { force?: boolean }) => {
      const engine = await ctx.engine();
      let failed = false;
      for (const ref of refs) {
        try {
          for (const item of await engine.images.remove(ref, { force: Boolean(opts.force) })) {
            if (item.Untagged) out(ctx, `Untagged: ${item.Untagged}\n`);
            if (item.Deleted) out(ctx, `Deleted: ${item.Deleted}\n`);
          }
        } catch (err) {
          failed = true;
          ctx.stderr.write(renderError(err));
        }
      }
      if (failed) ctx.setExitCode(1);
    });
}
