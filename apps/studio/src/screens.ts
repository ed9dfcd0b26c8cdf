// The studio's screens, in the order of the two-stage pattern, then classroom mode (the same pattern, guided, on the
// demo). The navigation is built from this list. A screen is any Svelte component without props; it reads and drives
// the shared state in lib/studio.svelte.ts and lib/state/<screen>.svelte.ts and can send the user elsewhere with route.go(id).
import type { Component } from 'svelte';
import Adapters from './screens/Adapters.svelte';
import Classroom from './screens/Classroom.svelte';
import Compare from './screens/Compare.svelte';
import Data from './screens/Data.svelte';
import Model from './screens/Model.svelte';
import Pairs from './screens/Pairs.svelte';
import Train from './screens/Train.svelte';

export interface Screen {
  id: string;
  label: string;
  /** One line under the label in the navigation. */
  hint: string;
  component: Component;
}

export const SCREENS: Screen[] = [
  { id: 'model', label: 'Model', hint: 'demo, Hub or local folder', component: Model },
  { id: 'data', label: 'Data', hint: 'upload and check a JSONL file', component: Data },
  { id: 'train', label: 'Train', hint: 'SFT, then DPO on top', component: Train },
  { id: 'pairs', label: 'Pairs', hint: 'judge answers, make DPO data', component: Pairs },
  { id: 'compare', label: 'Compare', hint: 'base vs SFT vs DPO', component: Compare },
  { id: 'adapters', label: 'Adapters', hint: 'saved, exported, imported', component: Adapters },
  { id: 'classroom', label: 'Classroom', hint: 'SFT vs DPO, guided, for teaching', component: Classroom },
];

export const DEFAULT_SCREEN = 'model';
