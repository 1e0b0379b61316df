import type { Command } from 'commander';
import type { CliContext, RegisterCommand } from '../context.js';
import type { RequestAuth, TransferProgress } from '../../registry/types.js';
import { createTransferRenderer } from '../progress/transfer.js';
import { TbuildError } from '../../errors.js';

/** `tbuild pull`, `push`, `login`, `logout` (pull and push also under `image …`). */
export const registerRegistryCommands: RegisterCommand = (program, ctx) => {
  const image = program.commands.find((c) => c.name() === 'image');
  for (const parent of image ? [program, image] : [program]) {
    addPull(parent, ctx);
    addPush(parent, ctx);
  }
  addLogin(program, ctx);
  addLogout(program, ctx);
};

/**
 * The CLI sends the stored credentials with the request (X-Registry-Auth through a daemon), as the
 * Docker CLI does: the daemon may run as another user, with another config.json.
 */
export async function cliRegistryAuth(ref: string): Promise<RequestAuth | undefined> {
  const [{ parseReference }, { DockerConfigCredentials }] = await Promise.all([import('../../images/reference.js'), import('../../registry/credentials.js')]);
  const host = parseReference(ref).domain;
  const credentials = await new DockerConfigCredentials().get(host);
  return credentials ? { host, credentials } : undefined;
}

function addPull(parent: Command, ctx: CliContext): void {
  parent
    .command('pull')
    .description('download an image from a registry')
    .argument('<name>', 'NAME[:TAG|@DIGEST]')
    .option('-a, --all-tags', 'download all tagged images in the repository')
    .option('--platform <p>', 'os/arch[/variant] to pull from a multi-platform image')
    .option('-q, --quiet', 'print only the image name')
    .action(async (name: string, o: { allTags?: boolean; platform?: string; quiet?: boolean }) => {
      const engine = await ctx.engine();
      const render = createTransferRenderer(ctx.stdout, o.quiet);
      const auth = await cliRegistryAuth(name);
      const req = { onProgress: (p: TransferProgress) => render.event(p), ...(o.platform ? { platform: o.platform, requirePlatform: true } : {}), ...(auth ? { auth } : {}) };
      if (o.allTags) {
        const res = await engine.registries.pullAllTags(name, req);
        render.done();
        for (const f of res.failed) ctx.stderr.write(`warning: ${res.name}:${f.tag} was not pulled: ${f.message}\n`);
        ctx.stdout.write(`${res.name}\n`);
        return;
      }
      // (a pull can fail after the image is kept: `--platform` of an image of another platform)
      const res = await engine.registries.pull(name, req).finally(() => render.done());
      ctx.stdout.write(`${res.name}\n`);
    });
}

function addPush(parent: Command, ctx: CliContext): void {
  parent
    .command('push')
    .description('upload an image to a registry')
    .argument('<name>', 'NAME[:TAG]')
    .option('-q, --quiet', 'suppress the progress output')
    .action(async (name: string, o: { quiet?: boolean }) => {
      const engine = await ctx.engine();
      const render = createTransferRenderer(ctx.stdout, o.quiet);
      const auth = await cliRegistryAuth(name);
      const res = await engine.registries.push(name, { onProgress: (p) => render.event(p), ...(auth ? { auth } : {}) });
      render.done();
      if (o.quiet) ctx.stdout.write(`${res.name}\n`);
    });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function addLogin(program: Command, ctx: CliContext): void {
  program
    .command('login')
    .addHelpText('after', '\nExamples:\n  tbuild login registry.example.com -u me --password-stdin < token.txt\n  tbuild login localhost:5000\n')
    .description('log in to a registry (credentials are checked, then stored in $DOCKER_CONFIG/config.json)')
    .argument('[server]', 'registry host (default docker.io)')
    .option('-u, --username <user>', 'username')
    .option('-p, --password <password>', 'password or token (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .action(async (server: string | undefined, o: { username?: string; password?: string; passwordStdin?: boolean }) => {
      const { DockerConfigCredentials, normalizeServer } = await import('../../registry/credentials.js');
      const host = normalizeServer(server ?? 'docker.io');
      if (o.password !== undefined && o.passwordStdin) throw new TbuildError('TB_INVALID_ARGUMENT', '--password and --password-stdin are mutually exclusive');
      if (o.password !== undefined) ctx.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
      const store = new DockerConfigCredentials();
      let password = o.passwordStdin ? await readStdin() : o.password;
      let username = o.username;
      if (password === undefined && username === undefined) {
        // Re-check what is stored, as `docker login SERVER` does with saved credentials.
        const saved = await store.get(host);
        username = saved?.username;
        password = saved?.password;
      }
      if (!username) throw new TbuildError('TB_INVALID_ARGUMENT', 'login: a username is required (-u)');
      if (password === undefined || password === '') throw new TbuildError('TB_INVALID_ARGUMENT', 'login: a password is required (--password-stdin or -p)');
      const engine = await ctx.engine();
      await engine.registries.checkLogin(host, { username, password });
      await store.store(host, { username, password });
      ctx.stdout.write('Login Succeeded\n');
    });
}

function addLogout(program: Command, ctx: CliContext): void {
  program
    .command('logout')
    .description('remove the stored credentials of a registry')
    .argument('[server]', 'registry host (default docker.io)')
    .action(async (server: string | undefined) => {
      const { DockerConfigCredentials, normalizeServer } = await import('../../registry/credentials.js');
      const host = normalizeServer(server ?? 'docker.io');
      const found = await new DockerConfigCredentials().erase(host);
      ctx.stdout.write(found ? `Removing login credentials for ${host}\n` : `Not logged in to ${host}\n`);
    });
}
