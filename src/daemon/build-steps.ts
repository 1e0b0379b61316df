import type { ProgressEvent, VertexStatus } from '../build/types.js';
import { shortId } from '../api/wire/json-message.js';

/** Every step of the Dockerfile, per stage (FROM first), as written. */
export interface StepPlan {
  singleStage: boolean;
  stages: Array<{ label: string; steps: string[] }>;
}

interface Step {
  vertex: VertexStatus;
  stage: string;
  index: number;
  total: number;
  instruction: string;
  headerSent: boolean;
  cacheShown: boolean;
  pending: string[];
  done: boolean;
}

/** `[stage-0 2/5] RUN make` or `[2/5] RUN make` → its parts; other vertices → undefined. */
export function parseStepName(name: string): { stage: string; index: number; total: number; instruction: string } | undefined {
  const m = /^\[(?:(.*?)\s+)?(\d+)\/(\d+)\]\s+(.*)$/s.exec(name);
  if (!m) return undefined;
  return { stage: m[1] ?? '', index: Number(m[2]), total: Number(m[3]), instruction: m[4]! };
}

/**
 * Turns the solver's progress events into the classic builder's text: `Step 2/5 : RUN make`, the
 * step's output, ` ---> Using cache`, ` ---> <id>`. The solver runs independent steps in parallel;
 * steps are shown one at a time in the order they started, and a step's output is held back until
 * the steps started before it have finished, so the text reads like a sequential build. With a
 * plan (the Dockerfile), steps are numbered across the whole file as Docker does, and the
 * config-only steps the solver reports nothing for are printed in their place.
 */
export class ClassicStepRenderer {
  #steps = new Map<string, Step>();
  #queue: Step[] = [];
  #emit: (text: string) => void;
  #plan: StepPlan | undefined;
  /** Last step index shown per stage label. */
  #shown = new Map<string, number>();

  constructor(emit: (text: string) => void, plan?: StepPlan) {
    this.#emit = emit;
    this.#plan = plan;
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

  /** Show whatever is left; after a successful build also the trailing config-only steps. */
  flush(success = false): void {
    while (this.#queue.length) {
      const head = this.#queue[0]!;
      this.#showHead(head);
      if (head.done) this.#finish(head);
      this.#queue.shift();
    }
    if (!success || !this.#plan) return;
    for (const [label, last] of this.#shown) {
      const stage = this.#stage(label);
      if (stage) this.#fill(label, last + 1, stage.steps.length + 1);
    }
  }

  /**
   * Where a step sits among all of its stage's instructions, which the classic builder numbers
   * (BuildKit's vertex names count only the instructions that make vertices): found by its text
   * in the plan, FROM first; without a plan, the vertex's own number.
   */
  #instructionIndex(parsed: { stage: string; index: number; instruction: string }): number {
    const s = this.#stage(parsed.stage);
    if (!s) return parsed.index;
    if (/^FROM\s/i.test(parsed.instruction)) return 1;
    const taken = new Set([...this.#steps.values()].filter((x) => x.stage === parsed.stage).map((x) => x.index));
    for (let j = 2; j <= s.steps.length; j++) if (s.steps[j - 1] === parsed.instruction && !taken.has(j)) return j;
    return parsed.index;
  }

  #stage(label: string): { label: string; steps: string[] } | undefined {
    if (!this.#plan) return undefined;
    return this.#plan.singleStage && label === '' ? this.#plan.stages[0] : this.#plan.stages.find((s) => s.label === label);
  }

  #label(stage: string, index: number, fallbackTotal: number, instruction: string): string {
    const plan = this.#plan;
    const s = this.#stage(stage);
    if (!plan || !s) return `Step ${index}/${fallbackTotal} : ${instruction}`;
    let offset = 0;
    for (const x of plan.stages) {
      if (x === s) break;
      offset += x.steps.length;
    }
    const total = plan.stages.reduce((a, x) => a + x.steps.length, 0);
    return `Step ${offset + index}/${total} : ${s.steps[index - 1] ?? instruction}`;
  }

  /** Print the steps `from` … `to - 1` of a stage that had no vertex of their own. */
  #fill(stage: string, from: number, to: number): void {
    const s = this.#stage(stage);
    if (!s) return;
    for (let j = from; j < to; j++) this.#emit(`${this.#label(stage, j, s.steps.length, s.steps[j - 1] ?? '')}\n`);
    this.#shown.set(stage, Math.max(this.#shown.get(stage) ?? 0, to - 1));
  }

  #onVertex(v: VertexStatus): void {
    let step = this.#steps.get(v.id);
    if (!step) {
      const parsed = parseStepName(v.name);
      if (!parsed) return;
      step = { vertex: v, ...parsed, index: this.#instructionIndex(parsed), headerSent: false, cacheShown: false, pending: [], done: false };
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

  #isFrom(step: Step): boolean {
    return /^FROM\s/i.test(step.instruction);
  }

  #showHead(step: Step): void {
    if (!step.headerSent) {
      step.headerSent = true;
      const last = this.#shown.get(step.stage) ?? 0;
      if (step.index > last + 1) this.#fill(step.stage, last + 1, step.index);
      this.#shown.set(step.stage, Math.max(last, step.index));
      this.#emit(`${this.#label(step.stage, step.index, step.total, step.instruction)}\n`);
      // A base image is always "cached"; the classic builder just shows its id.
      if (step.vertex.cached && !this.#isFrom(step)) {
        step.cacheShown = true;
        this.#emit(' ---> Using cache\n');
      } else if (/^RUN\s/i.test(step.instruction)) this.#emit(` ---> Running in ${shortId(step.vertex.id)}\n`);
    }
    for (const text of step.pending.splice(0)) this.#emit(text);
  }

  #finish(step: Step): void {
    if (step.vertex.error !== undefined) return;
    if (step.vertex.cached && !step.cacheShown && !this.#isFrom(step)) this.#emit(' ---> Using cache\n');
    this.#emit(` ---> ${shortId(step.vertex.id)}\n`);
  }
}
