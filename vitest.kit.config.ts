import { defineConfig } from 'vitest/config';

/** Checks against the optional kit beside the project (`../shared`): `npm run test:kit`. Not part of the suite. */
export default defineConfig({
  test: {
    include: ['test/kit/**/*.kit.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    maxWorkers: 2,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
