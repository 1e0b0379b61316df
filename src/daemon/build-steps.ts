import type { ProgressEvent, VertexStatus } from '../solver/types.js';
import { shortId } from './json-message.js';

interface Step {
  vertex: VertexStatus;
  label: string;
  instruction: string;
  headerSent: boolean;
  pending: string[];
  done: boolean;
  cacheShown: boolean;
}

/** `[stage-0 2/5] RUN make` → `{ index: 2, total: 5, instruction: 'RUN make' }`; other vertices → undefined. */
export function parseStepName(name: string): { index: number; total: number; instruction: string } | undefined {
  const m = /^\[[^\]]*?(\d+)\/(\d+)\]\s+(.*)$/s.exec(name);
  if (!m) return undefined;
  return { index: Number(m[1]), total: Number(m[2]), instruction: m[3]! };
}

/**
 * Turns the solver's progress events into the classic builder's text: `Step 2/5 : RUN make`, the
 * step's output, ` ---> Using cache`, ` ---> <id>`. The solver runs independent steps in parallel;
 * steps are shown one at a time in the order they started, and a step's output is held back until
 * the steps started before it have finished, so the text reads like a sequential build.
 */
export class ClassicStepRenderer {
  #steps = new Map<string, Step>();
  #queue: Step[] = [];
  #emit: (text: string) => void;

  constructor(emit: (text: string) => void) {
    this.#emit = emit;
  }

  onProgress(ev: ProgressEvent): void {
    if (ev.type === 'vertex') this.#onVertex(ev.vertex);
    else if (ev.type === 'log') {
      const step = this.#steps.get(ev.vertex);
      if (!step) return;
      const text = Buffer.from(ev.data).toString('utf8');
      if (this.#queue[0] === step) this.#emit(text);
      else step.pending.push(text);
    }
  }

  /** Show whatever is left (steps still queued at the end of the build). */
  flush(): void {
    while (this.#queue.length) {
      const head = this.#queue[0]!;
      this.#showHead(head);
      if (head.done) this.#finish(head);
      this.#queue.shift();
    }
  }

  #onVertex(v: VertexStatus): void {
    let step = this.#steps.get(v.id);
    if (!step) {
      const parsed = parseStepName(v.name);
      if (!parsed) return;
      step = {
        vertex: v,
        label: `Step ${parsed.index}/${parsed.total} : ${parsed.instruction}`,
        instruction: parsed.instruction,
        headerSent: false,
        pending: [],
        done: false,
        cacheShown: false,
      };
      this.#steps.set(v.id, step);
      this.#queue.push(step);
    }
    step.vertex = { ...step.vertex, ...v };
    if (v.completed !== undefined || v.error !== undefined) step.done = true;
    this.#advance();
  }

  #advance(): void {
    while (this.#queue.length) {
      const head = this.#queue[0]!;
      this.#showHead(head);
      if (!head.done) return;
      this.#finish(head);
      this.#queue.shift();
    }
  }

  #showHead(step: Step): void {
    if (!step.headerSent) {
      step.headerSent = true;
      this.#emit(`${step.label}\n`);
      if (step.vertex.cached) {
        step.cacheShown = true;
        this.#emit(' ---> Using cache\n');
      }
      else if (/^RUN\s/i.test(step.instruction)) this.#emit(` ---> Running in ${shortId(step.vertex.id)}\n`);
    }
    for (const text of step.pending.splice(0)) this.#emit(text);
  }

  #finish(step: Step): void {
    if (step.vertex.error !== undefined) return;
    if (step.vertex.cached && !step.cacheShown) this.#emit(' ---> Using cache\n');
    this.#emit(` ---> ${shortId(step.vertex.id)}\n`);
  }
}
