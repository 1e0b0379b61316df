import type { ArgDecl } from './types.js';
import { expandWord, expandWords } from './shell/index.js';
import { checkLength } from './resolve.js';

export interface StageScopeInit {
  /** From ResolvedDockerfile.globalArgs (after build-arg overrides). */
  globalArgs: Map<string, string | undefined>;
  /** --build-arg values. */
  buildArgs: Record<string, string>;
  /** ENV of the base image config (KEY=value). */
  baseEnv: string[];
  escape?: '\\' | '`';
}

/** Build args that reach RUN without an ARG declaration (and stay out of history and cache keys). */
export const PROXY_ARGS: readonly string[] = [
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy',
  'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
];

const own = (o: Record<string, string>, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/**
 * The variables one stage sees while it is being built, as BuildKit's dispatcher keeps them:
 * ENV (the base image's, then the stage's) and every ARG that gets a value are written, in
 * instruction order, into one environment that expansion and RUN read, so the later of an ENV
 * and an ARG of the same name wins (`ARG A=arg` then `ENV A=env` gives `env`; BuildKit's
 * dispatchArg also lets `ENV A=env` then `ARG A=arg` give `arg` — only the image config keeps
 * ENV alone). An ARG is visible only after its declaration in the stage; build args only fill
 * declared ARGs (plus the proxy args, which reach RUN's environment undeclared).
 *
 * Same-line references: `ENV A=1 B=$A` sees A as it was BEFORE the instruction (B is empty if A
 * was unset). The caller expands every pair of one ENV/LABEL instruction against this scope
 * first, then calls `setEnv` for each; this class never re-expands stored values. Each ARG
 * declaration on a line is applied in turn (`ARG A=1 B=$A` gives B=1, as in BuildKit).
 */
export class StageScope {
  readonly #globals: Map<string, string | undefined>;
  readonly #buildArgs: Record<string, string>;
  readonly #escape: '\\' | '`';
  /** ENV in image-config order; a replaced key keeps its slot. */
  readonly #env = new Map<string, string>();
  /** What expansion and RUN see: ENV and valued ARGs, later writes replacing earlier ones. */
  readonly #state = new Map<string, string>();
  /** Declared ARGs in declaration order (re-declaration keeps the first slot, takes the new value). */
  readonly #args = new Map<string, string | undefined>();

  constructor(init: StageScopeInit) {
    this.#globals = init.globalArgs;
    this.#buildArgs = init.buildArgs;
    this.#escape = init.escape ?? '\\';
    for (const kv of init.baseEnv) {
      const eq = kv.indexOf('=');
      const [k, v] = eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)];
      this.#env.set(k, v);
      this.#state.set(k, v);
    }
  }

  /**
   * Declares one ARG: its value is the build arg if given, else the default (expanded here
   * against the scope before the declaration), else the value of the global ARG of the same
   * name, else unset (and then it changes nothing in the environment).
   */
  declareArg(decl: ArgDecl): void {
    let value: string | undefined;
    if (own(this.#buildArgs, decl.key)) value = this.#buildArgs[decl.key];
    else if (decl.default !== undefined) value = this.expand(decl.default);
    else if (this.#globals.has(decl.key)) value = this.#globals.get(decl.key);
    this.#args.set(decl.key, value);
    if (value !== undefined) this.#state.set(decl.key, value);
  }

  /** Sets an ENV variable; `value` must already be expanded by the caller. */
  setEnv(key: string, value: string): void {
    this.#env.set(key, value);
    this.#state.set(key, value);
  }

  /** The current value (the later of ENV and a valued ARG); undefined when unset. */
  lookup(name: string): string | undefined {
    return this.#state.get(name);
  }

  readonly #lookup = (name: string): string | undefined => this.#state.get(name);

  expand(word: string): string {
    return checkLength(expandWord(word, this.#lookup, { escape: this.#escape }), word);
  }

  expandList(word: string): string[] {
    return expandWords(word, this.#lookup, { escape: this.#escape });
  }

  /** ENV only, as KEY=value, for the image config. */
  imageEnv(): string[] {
    return [...this.#env].map(([k, v]) => `${k}=${v}`);
  }

  /**
   * The environment of a RUN: ENV and valued ARGs as `lookup` sees them (ENV keys first, in
   * image order, then ARG-only keys in declaration order), then proxy build args that no ARG
   * declares and no ENV sets.
   */
  runEnv(): string[] {
    const out: string[] = [];
    for (const k of this.#env.keys()) out.push(`${k}=${this.#state.get(k)}`);
    for (const [k, v] of this.#state) if (!this.#env.has(k)) out.push(`${k}=${v}`);
    for (const k of PROXY_ARGS) {
      if (own(this.#buildArgs, k) && !this.#args.has(k) && !this.#state.has(k)) out.push(`${k}=${this.#buildArgs[k]}`);
    }
    return out;
  }

  /**
   * Declared ARGs with their values, in declaration order: for cache keys and for the
   * `|2 A=1 B=2 /bin/sh -c …` history prefix (BuildKit leaves out ARGs without a value there;
   * callers filter as they need).
   */
  declaredArgs(): Array<[string, string | undefined]> {
    return [...this.#args];
  }

  /** Whether an ARG of this name has been declared in the stage. */
  hasArg(name: string): boolean {
    return this.#args.has(name);
  }
}
