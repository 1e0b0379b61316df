import type { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { decompress } from '../images/decompress.js';
import { parseDockerfile } from '../parser/parse.js';
import type { StepPlan } from './build-steps.js';

const MAX_DOCKERFILE = 4 * 1024 * 1024;

/**
 * Read the Dockerfile out of a build-context tar stream on the side (the engine reads its own copy),
 * to number and print every step the way the classic builder does, including the config-only ones
 * (ENV, CMD, …) for which the solver reports no progress. Always drains `input`; never throws:
 * without a readable Dockerfile there is simply no plan.
 */
export async function peekStepPlan(input: Readable, dockerfile: string): Promise<StepPlan | undefined> {
  const want = dockerfile.replace(/^(\.\/)+/, '').replace(/^\/+/, '');
  let text: string | undefined;
  let stream: Readable | undefined;
  try {
    ({ stream } = await decompress(input, 'build context'));
    const source = stream;
    const ex = extract();
    await new Promise<void>((resolve, reject) => {
      ex.on('entry', (header, body, next) => {
        // A truncated archive errors the entry too; the extractor's error is the one that counts.
        body.on('error', () => {});
        const name = header.name.replace(/^(\.\/)+/, '');
        if (text === undefined && name === want && header.type === 'file' && (header.size ?? 0) <= MAX_DOCKERFILE) {
          const chunks: Buffer[] = [];
          body.on('data', (c: unknown) => chunks.push(c as Buffer));
          body.on('end', () => {
            text = Buffer.concat(chunks).toString('utf8');
            next();
          });
        } else {
          body.on('end', () => next());
          body.resume();
        }
      });
      ex.on('finish', resolve);
      ex.on('error', reject);
      source.on('error', reject);
      source.pipe(ex);
    });
  } catch {
    // Not a tar (or cut short): keep both ends flowing, or the copy piped into the decompressor
    // holds back the shared body, and with it the engine's copy.
    stream?.unpipe();
    stream?.on('error', () => {}).resume();
    input.resume();
  }
  return text === undefined ? undefined : stepPlanOf(text, dockerfile);
}

/** The classic builder's numbered steps of a Dockerfile's text; undefined when it does not parse. */
export function stepPlanOf(text: string, dockerfile: string): StepPlan | undefined {
  try {
    const df = parseDockerfile(text, { file: dockerfile });
    return {
      singleStage: df.stages.length === 1,
      stages: df.stages.map((s) => ({
        label: s.name ?? `stage-${s.index}`,
        steps: [s.from.original, ...s.instructions.map((i) => i.original)],
      })),
    };
  } catch {
    return undefined;
  }
}
