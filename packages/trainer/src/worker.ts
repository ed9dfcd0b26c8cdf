// The trainer's Web Worker: the engine behind one Comlink-exposed object.
import * as Comlink from 'comlink';
import { TrainerService } from './service.ts';

Comlink.expose(new TrainerService());
