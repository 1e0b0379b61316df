/** Work shared by a build's cache keys and its steps (a download, a git checkout), by build and key. */
const perBuild = new WeakMap<object, Map<string, Promise<unknown>>>();

/** `fn` once per `build` and `key`; a failure is forgotten, so the next step that needs it tries again. */
export function oncePerBuild<T>(build: object, key: string, fn: () => Promise<T>): Promise<T> {
  let map = perBuild.get(build);
  if (!map) {
    map = new Map();
    perBuild.set(build, map);
  }
  let p = map.get(key) as Promise<T> | undefined;
  if (!p) {
    p = fn();
    map.set(key, p);
    p.catch(() => map!.delete(key));
  }
  return p;
}
