import type { PassThrough } from 'node:stream';

/**
 * A writer into `pt` that waits while it is full: `push` resolves once the chunk is taken, the
 * stream has drained, or it was closed (a consumer that gave up must not leave its producer
 * waiting for a drain that never comes).
 */
export function streamSink(pt: PassThrough): { push(chunk: Buffer): Promise<void> } {
  return {
    async push(chunk) {
      if (pt.write(chunk) || pt.destroyed) return;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          pt.off('drain', done);
          pt.off('close', done);
          resolve();
        };
        pt.on('drain', done);
        pt.on('close', done);
      });
    },
  };
}
