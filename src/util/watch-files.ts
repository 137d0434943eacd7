// Calls back when any of a few files changes. Files are replaced by rename (atomic writes), which
// would orphan a watch on the file itself, so their directories are watched instead, and a burst
// of events (a key, then its certificate) is coalesced into one call.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface FileWatch {
  close(): void;
}

export function watchFiles(
  paths: readonly string[],
  onChange: (changed: string[]) => void,
  onError: (error: Error) => void,
  settleMs = 100,
): FileWatch {
  const byDirectory = new Map<string, Set<string>>();
  for (const path of paths) {
    const names = byDirectory.get(dirname(path)) ?? new Set<string>();
    names.add(basename(path));
    byDirectory.set(dirname(path), names);
  }
  const changed = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    timer = undefined;
    const names = [...changed];
    changed.clear();
    onChange(names);
  };
  const watchers: FSWatcher[] = [];
  for (const [directory, names] of byDirectory) {
    const watcher = watch(directory, { persistent: false }, (_event, name) => {
      if (name === null || !names.has(name)) return;
      changed.add(name);
      timer ??= setTimeout(flush, settleMs);
    });
    watcher.on('error', onError);
    watchers.push(watcher);
  }
  return {
    close() {
      clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}
