import type { SourceRange } from '../errors.js';

export type { SourceRange };

/**
 * Instructions are kept as written: words are NOT expanded here, because expansion needs the
 * environment of the stage being built (build args, ENV from the base image's config), which
 * only the solver has. The parser splits, unquotes JSON forms, and validates flags; the solver
 * expands with `expandWord`/`expandWords` from `./shell/` and the scoping from `./scope`.
 */

/** A command as written: exec (JSON array) form or shell form. */
export type CommandForm =
  | { type: 'exec'; args: string[] }
  /** Shell form: the text after the instruction (and its flags), continuations joined, comments removed. */
  | { type: 'shell'; command: string };

export interface Heredoc {
  /** The delimiter word, unquoted (`EOF`). */
  name: string;
  /** The body, with the closing delimiter line removed; leading tabs stripped for `<<-`. */
  content: string;
  /** False when the delimiter was quoted (`<<"EOF"` / `<<'EOF'`): no expansion of the body. */
  expand: boolean;
  /** True for `<<-`. */
  chomp: boolean;
  /** For RUN: `3<<EOF` redirects fd 3; undefined means stdin (fd 0). */
  fileDescriptor?: number;
}

interface InstructionBase {
  /** The instruction keyword as written (`run`, `Run`, `RUN`), for casing checks. */
  keyword: string;
  range: SourceRange;
  /** The full original text (continuations joined with the escape char removed), for history and messages. */
  original: string;
}

export interface FromInstruction extends InstructionBase {
  kind: 'FROM';
  /** Raw image word: may contain `$ARG` references to global ARGs. */
  image: string;
  /** Raw `--platform` value. */
  platform?: string;
  /** `AS name` as written (case kept; stage names compare case-insensitively). */
  alias?: string;
}

/** A raw `--mount` value, e.g. `type=cache,target=/root/.cache,sharing=locked`, parsed by `parseMount`. */
export type RawMount = string;

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';

export interface MountSpec {
  type: MountType;
  target?: string;
  source?: string;
  from?: string;
  readonly: boolean;
  id?: string;
  sharing?: 'shared' | 'private' | 'locked';
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  required?: boolean;
  /** secret: expose as this environment variable. */
  env?: string;
}

export interface RunInstruction extends InstructionBase {
  kind: 'RUN';
  command: CommandForm;
  mounts: RawMount[];
  network?: 'default' | 'none' | 'host';
  security?: 'sandbox' | 'insecure';
  heredocs: Heredoc[];
}

export interface CmdInstruction extends InstructionBase {
  kind: 'CMD';
  command: CommandForm;
}

export interface EntrypointInstruction extends InstructionBase {
  kind: 'ENTRYPOINT';
  command: CommandForm;
}

export interface ShellInstruction extends InstructionBase {
  kind: 'SHELL';
  shell: string[];
}

export interface KeyValue {
  key: string;
  /** Raw value word (quotes kept, to be processed by `expandWord` which also unquotes). */
  value: string;
}

export interface EnvInstruction extends InstructionBase {
  kind: 'ENV';
  pairs: KeyValue[];
  /** `ENV KEY value with spaces` (legacy, one pair). */
  legacy: boolean;
}

export interface ArgDecl {
  key: string;
  /** Raw default word; undefined when declared without `=`. */
  default?: string;
}

export interface ArgInstruction extends InstructionBase {
  kind: 'ARG';
  args: ArgDecl[];
}

export interface LabelInstruction extends InstructionBase {
  kind: 'LABEL';
  pairs: KeyValue[];
  legacy: boolean;
}

export interface ExposeInstruction extends InstructionBase {
  kind: 'EXPOSE';
  /** Raw words: `80`, `8000-8010/tcp`, `$PORT/udp`. */
  ports: string[];
}

export interface VolumeInstruction extends InstructionBase {
  kind: 'VOLUME';
  paths: string[];
  json: boolean;
}

export interface UserInstruction extends InstructionBase {
  kind: 'USER';
  user: string;
}

export interface WorkdirInstruction extends InstructionBase {
  kind: 'WORKDIR';
  path: string;
}

export interface StopSignalInstruction extends InstructionBase {
  kind: 'STOPSIGNAL';
  signal: string;
}

export interface HealthcheckInstruction extends InstructionBase {
  kind: 'HEALTHCHECK';
  /** `HEALTHCHECK NONE` gives `{ type: 'NONE' }`. */
  check:
    | { type: 'NONE' }
    | {
        type: 'CMD';
        command: CommandForm;
        /** Durations in nanoseconds (0 = inherit/default), parsed from Go duration syntax. */
        interval: number;
        timeout: number;
        startPeriod: number;
        startInterval: number;
        retries: number;
      };
}

export interface OnbuildInstruction extends InstructionBase {
  kind: 'ONBUILD';
  /** The trigger text as stored in the image config (`RUN echo hi`). */
  expression: string;
  trigger: Instruction;
}

export interface MaintainerInstruction extends InstructionBase {
  kind: 'MAINTAINER';
  name: string;
}

export interface CopyInstruction extends InstructionBase {
  kind: 'COPY' | 'ADD';
  /** Raw source words (may contain wildcards and `$VAR`); heredoc names refer to `heredocs`. */
  sources: string[];
  dest: string;
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  parents: boolean;
  excludes: string[];
  /** ADD only. */
  checksum?: string;
  keepGitDir?: boolean;
  unpack?: boolean;
  heredocs: Heredoc[];
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | ShellInstruction
  | EnvInstruction
  | ArgInstruction
  | LabelInstruction
  | ExposeInstruction
  | VolumeInstruction
  | UserInstruction
  | WorkdirInstruction
  | StopSignalInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | MaintainerInstruction
  | CopyInstruction;

export type InstructionKind = Instruction['kind'];

export interface Directives {
  syntax?: string;
  /** `\` (default) or `` ` ``. */
  escape: '\\' | '`';
  /** Raw `check=` value, e.g. `skip=JSONArgsRecommended;error=true`. */
  check?: string;
}

export interface Stage {
  /** 0-based position in the Dockerfile. */
  index: number;
  /** Alias as written, if any. */
  name?: string;
  from: FromInstruction;
  /** Instructions after FROM, in order (FROM itself excluded). */
  instructions: Instruction[];
}

export type Severity = 'error' | 'warning' | 'info';

export interface Diagnostic {
  /** Check rule name (`JSONArgsRecommended`) or an error code. */
  rule: string;
  severity: Severity;
  message: string;
  range?: SourceRange;
  url?: string;
}

export interface Dockerfile {
  directives: Directives;
  /** ARG instructions before the first FROM. */
  globalArgs: ArgInstruction[];
  stages: Stage[];
  /** Parse-time warnings (empty continuation lines, …); checks add their own in `runChecks`. */
  diagnostics: Diagnostic[];
  /** The source text (BOM removed), for rendering errors with surrounding lines. */
  source: string;
  /** The path given in ParseOptions.file (for errors raised after parsing, e.g. by resolve). */
  file?: string;
}

export interface ParseOptions {
  /** Path shown in errors (`Dockerfile`). */
  file?: string;
}

/** Build-time inputs that decide how a Dockerfile resolves. */
export interface ResolveOptions {
  buildArgs?: Record<string, string>;
  target?: string;
  /** `os/arch[/variant]` of the build host and of the target; default linux/amd64 on this machine. */
  buildPlatform?: string;
  targetPlatform?: string;
}

/** A stage after FROM resolution. */
export interface ResolvedStage {
  stage: Stage;
  /** Expanded FROM image word: `scratch`, an image reference, or another stage's name/index. */
  base: { type: 'scratch' } | { type: 'image'; ref: string } | { type: 'stage'; index: number };
  /** Expanded platform, if `--platform` was given. */
  platform?: string;
  /** Stage indices this stage reads from: its base stage, `COPY --from`, `RUN --mount from=`. */
  dependsOn: number[];
}

export interface ResolvedDockerfile {
  dockerfile: Dockerfile;
  stages: ResolvedStage[];
  /** Index of the stage to build (`--target`, or the last one). */
  target: number;
  /** Stages needed for the target, in dependency order (dependencies first). */
  needed: number[];
  /** Global ARG values after build-arg overrides (what FROM lines and redeclared ARGs see). */
  globalArgs: Map<string, string | undefined>;
}
