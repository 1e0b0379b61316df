import { sha256, type Digest } from '../util/digest.js';
import type { ProgressEvent, VertexStatus } from './types.js';

/**
 * Work outside the graph (loading the context, exporting) shown as steps the way BuildKit shows its
 * `[internal]` and `exporting to image` vertices.
 */
export function internalSteps(buildId: string, emit: (e: ProgressEvent) => void) {
  let n = 0;
  return async <T>(name: string, fn: (vertex: Digest) => Promise<T>): Promise<T> => {
    // two steps of one name (two cache exports) are two vertices
    const vertex: VertexStatus = { id: sha256(`${buildId}\0${name}\0${n++}`), name, inputs: [], started: Date.now() };
    emit({ type: 'vertex', vertex: { ...vertex } });
    try {
      const out = await fn(vertex.id);
      emit({ type: 'vertex', vertex: { ...vertex, completed: Date.now() } });
      return out;
    } catch (err) {
      emit({ type: 'vertex', vertex: { ...vertex, completed: Date.now(), error: (err as Error).message } });
      throw err;
    }
  };
}
