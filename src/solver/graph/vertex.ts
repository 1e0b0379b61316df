import { digestOf, type Digest } from '../../util/digest.js';
import type { Definition, Op, Vertex, VertexMeta } from './types.js';

/** The vertex digest: canonical JSON of the op and its inputs' digests, nothing else. */
export function vertexDigest(op: Op, inputs: readonly Digest[]): Digest {
  return digestOf({ v: 1, op, inputs });
}

/** Accumulates vertices while converting; identical ops on identical inputs collapse into one. */
export class GraphBuilder {
  readonly #vertices = new Map<Digest, Vertex>();
  readonly #meta = new Map<Digest, VertexMeta>();

  add(op: Op, inputs: Digest[], meta: VertexMeta): Digest {
    const digest = vertexDigest(op, inputs);
    if (!this.#vertices.has(digest)) this.#vertices.set(digest, { digest, op, inputs });
    const prev = this.#meta.get(digest);
    if (prev) {
      for (const s of meta.stages) if (!prev.stages.includes(s)) prev.stages.push(s);
    } else {
      this.#meta.set(digest, { ...meta, stages: [...meta.stages] });
    }
    return digest;
  }

  get(digest: Digest): Vertex | undefined {
    return this.#vertices.get(digest);
  }

  definition(file: string, source: string): Definition {
    return { vertices: this.#vertices, meta: this.#meta, file, source };
  }
}

/** Every vertex the given roots depend on (themselves included), inputs before users. */
export function topoOrder(def: Definition, roots: readonly Digest[]): Digest[] {
  const seen = new Set<Digest>();
  const out: Digest[] = [];
  const visit = (d: Digest): void => {
    if (seen.has(d)) return;
    seen.add(d);
    const v = def.vertices.get(d);
    if (!v) throw new Error(`vertex ${d} missing from definition`);
    for (const i of v.inputs) visit(i);
    out.push(d);
  };
  for (const r of roots) visit(r);
  return out;
}
