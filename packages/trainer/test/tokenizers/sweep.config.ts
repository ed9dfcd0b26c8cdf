// sweep.check.ts alone (see there): a by-hand check over ~600 MB of npm packages, kept out of the suite's projects.
import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { include: ['test/tokenizers/sweep.check.ts'], testTimeout: 600_000 } });
