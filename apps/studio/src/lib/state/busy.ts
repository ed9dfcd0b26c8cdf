// Whether the GPU is taken: a download, a run (paused included), a comparison or the classroom's generation. One
// thing at a time: the screens and the classroom start nothing while this is true.
import { studio } from '../studio.svelte.ts';
import { abState } from './ab.svelte.ts';
import { compareState } from './compare.svelte.ts';
import { modelState } from './model.svelte.ts';
import { pairsState } from './pairs.svelte.ts';
import { trainState } from './train.svelte.ts';

export function gpuBusy(): boolean {
  return (
    modelState.loading !== null ||
    trainState.isTraining ||
    compareState.running ||
    pairsState.running ||
    abState.running ||
    studio.lessonBusy
  );
}
