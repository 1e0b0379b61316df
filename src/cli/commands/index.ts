import type { RegisterCommand } from '../context.js';
import { registerCheck } from './check.js';
import { registerOutline } from './outline.js';
import { registerImageCommands } from './images.js';
import { registerArchiveCommands } from './archive.js';
import { registerContainerCommands } from './containers.js';
import { registerBuild } from './build.js';
import { registerDaemon } from './daemon.js';

/** Each file registers its own commands; owners: check/outline (parser), images/archive (image store),
 * containers (run/ps/rm…), build (solver), daemon. */
export const COMMANDS: RegisterCommand[] = [
  registerCheck,
  registerOutline,
  registerBuild,
  registerImageCommands,
  registerArchiveCommands,
  registerContainerCommands,
  registerDaemon,
];
