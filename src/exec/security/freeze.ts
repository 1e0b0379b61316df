/**
 * Holding a running container still (cgroup freezer, through the runtime's pause/resume) while
 * the host resolves and copies paths in its root filesystem: with every process inside frozen,
 * nothing can swap a path component for a symlink between our confined resolution and the
 * open (the CVE-2018-15664 class of `docker cp` races). Holds are counted per container, so
 * concurrent copies share one freeze and the last one out thaws it.
 */
export class Freezer {
  readonly #runtime: (args: string[]) => Promise<string>;
  readonly #held = new Map<string, { count: number; frozen: Promise<boolean> }>();
  /** A thaw in progress: a new hold waits for it, or it would take our own freeze for a user's pause and skip freezing. */
  readonly #thawing = new Map<string, Promise<void>>();

  /** Told before a freeze and after its thaw (so a crash between them can be undone by the next process). */
  readonly #hooks: { frozen?: (id: string) => Promise<void>; thawed?: (id: string) => Promise<void> };

  constructor(runtimeCommand: (args: string[]) => Promise<string>, hooks: { frozen?: (id: string) => Promise<void>; thawed?: (id: string) => Promise<void> } = {}) {
    this.#runtime = runtimeCommand;
    this.#hooks = hooks;
  }

  /**
   * Freeze `id` if `running()` says it runs (a stopped container has nobody to race with; an
   * already paused one stays as it is). Resolves with the release function once frozen.
   */
  async hold(id: string, running: () => Promise<boolean>): Promise<() => Promise<void>> {
    let h = this.#held.get(id);
    while (!h && this.#thawing.has(id)) {
      await this.#thawing.get(id);
      h = this.#held.get(id);
    }
    if (!h) {
      h = {
        count: 0,
        frozen: running().then(async (yes) => {
          if (!yes) return false;
          // said before the freeze: a crash right after it must still be undone
          await this.#hooks.frozen?.(id).catch(() => {});
          await this.#runtime(['pause', id]);
          return true;
        }),
      };
      this.#held.set(id, h);
    }
    const entry = h;
    entry.count++;
    let frozen: boolean;
    try {
      frozen = await entry.frozen;
    } catch (err) {
      // The container may have exited between the check and the pause: then nothing runs in it.
      if (--entry.count === 0 && this.#held.get(id) === entry) this.#held.delete(id);
      if (await running().catch(() => true)) throw err;
      return async () => {};
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      if (--entry.count > 0) return;
      if (this.#held.get(id) === entry) this.#held.delete(id);
      if (!frozen) return;
      const thaw: Promise<void> = this.#runtime(['resume', id])
        .then(
          () => {},
          () => {},
        )
        .then(() => this.#hooks.thawed?.(id).catch(() => {}))
        .then(() => {
          if (this.#thawing.get(id) === thaw) this.#thawing.delete(id);
        });
      this.#thawing.set(id, thaw);
      await thaw;
    };
  }
}
