// A process's resident memory by kind and its open file descriptors, from /proc (Linux): what the
// soaks sample. RSS alone cannot tell a leak from allocator caching; the split can:
//   heap  the brk heap (glibc's main arena: small native allocations of the main thread)
//   anon  anonymous mappings (other malloc arenas, large malloc'd blocks, V8's heap, thread stacks)
//   file  file-backed mappings (the addon, LibTorch, fonts: pages of code and data read in)
import { readdirSync, readFileSync } from 'node:fs';

/**
 * RSS split by kind (bytes), the number of mappings, and open descriptors, of `pid` (default:
 * this process).
 */
export function processMemory(pid = 'self') {
  const out = { rss: 0, heap: 0, anon: 0, file: 0, mappings: 0, fds: 0 };
  let kind = 'anon';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    // A mapping's header: "start-end perms offset dev inode [path]".
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const path = head[1];
      kind = path === '[heap]' ? 'heap' : path === '' || path.startsWith('[') ? 'anon' : 'file';
      out.mappings++;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) {
      const bytes = Number(rss[1]) * 1024;
      out[kind] += bytes;
      out.rss += bytes;
    }
  }
  out.fds = readdirSync(`/proc/${pid}/fd`).length;
  return out;
}

/** Bytes as MiB with one decimal, for reports. */
export const mib = (b) => Number((b / 2 ** 20).toFixed(1));
