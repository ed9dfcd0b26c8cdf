import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';
// Imported by path, not by package name: vite bundles a relative import into the config, while it would hand the
// workspace package's TypeScript to Node as is.
import { webtuneTrainer } from '../../packages/trainer/vite.ts';

export default defineConfig({
  // Relative asset URLs: the built app (its worker and the demo files too) works from any path on any static host.
  base: './',
  plugins: [svelte(), webtuneTrainer()],
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 2048 },
});
