import { TbuildError } from '../errors.js';
import type { SourceTree } from '../session/types.js';
import type { OpEnv } from './types.js';

/** A local named context of this build (the frontend only names ones the build was given). */
export function namedTree(env: OpEnv, name: string): SourceTree {
  const tree = env.named?.[name];
  if (!tree) throw new TbuildError('TB_INTERNAL', `named context ${name} was not opened for this build`);
  return tree;
}
