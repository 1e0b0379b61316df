/** Split `ps -ef` output: the last column (CMD) keeps its spaces. */
export function parsePs(text: string): { titles: string[]; processes: string[][] } {
  const lines = text.split('\n').filter((l) => l.trim());
  const titles = (lines.shift() ?? '').trim().split(/\s+/);
  const processes = lines.map((line) => {
    const cols = line.trim().split(/\s+/);
    return [...cols.slice(0, titles.length - 1), cols.slice(titles.length - 1).join(' ')];
  });
  return { titles, processes };
}
