import { ensureBusyboxArchive } from './busybox-image.js';

/** Once per run, before any test file: the suite's base image archive. */
export default async function setup(): Promise<void> {
  await ensureBusyboxArchive();
}
