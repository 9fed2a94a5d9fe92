// Word count over a directory of text files: chunks of files counted in parallel on the cluster, merged here.
// Usage: shoal run examples/wordcount.ts [directory]
// The default corpus is /usr/share/common-licenses (on every Debian/Ubuntu machine), else /usr/share/doc.
//
// The driver reads the files and sends their text as task arguments, rather than sending paths for the
// nodes to open. Paths would work on the embedded local cluster (same machine), but on a real cluster the
// nodes are other machines that do not have this directory. Sending contents works everywhere, and
// unreadable files are found and reported once, here, instead of as task failures on some node. The cost is
// that every byte leaves this machine once (chunks over 100 KB travel as objects straight to a node, not
// through the head); a corpus on a filesystem every node mounts would be cheaper to send as paths.

import { constants } from "node:fs";
import { access, readdir, readFile, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { connect, type ObjectRef } from "shoal";
import { countWords } from "./wordcount-tasks.js";
import { clusterCpus, plural, progress, tasksPerNode } from "./report.js";

const defaultDirectories = ["/usr/share/common-licenses", "/usr/share/doc"];
const topWordsShown = 20;
/** Bigger files are skipped: whole files are read into memory and a chunk travels as one object. */
const fileBytesMax = 64 * 1024 * 1024;
/** Chunk sizes aim for a few chunks per CPU slot, within these bounds (tiny tasks waste time on messages). */
const chunkBytesMin = 32 * 1024;
const chunkBytesMax = 4 * 1024 * 1024;
/** Chunks submitted and not yet merged, per CPU slot: keeps the cluster busy without reading the whole corpus into memory. */
const chunksInFlightPerCpu = 2;

const gunzipAsync = promisify(gunzip);

interface FileEntry {
  path: string;
  size: number;
}

interface Listing {
  files: FileEntry[];
  /** Symlinks to files already listed (e.g. GPL -> GPL-3), counted once. */
  duplicates: number;
  problems: string[];
}

type FileText = { kind: "text"; text: string; bytes: number } | { kind: "binary" } | { kind: "skipped"; reason: string };

const usage = "usage: shoal run examples/wordcount.ts [directory]";

const directory = await chooseDirectory(process.argv[2]);
const listing = await listFiles(directory);
if (listing.files.length === 0) fail(`no readable files under ${directory}${describeProblems(listing.problems)}`);

const cluster = await connect();
try {
  const before = await cluster.status();
  const cpus = Math.max(1, clusterCpus(before));
  const totalBytes = listing.files.reduce((sum, file) => sum + file.size, 0);
  const chunks = chunkFiles(listing.files, Math.min(chunkBytesMax, Math.max(chunkBytesMin, Math.ceil(totalBytes / (cpus * 4)))));
  process.stdout.write(
    `counting words in ${plural(listing.files.length, "file")} (${formatBytes(totalBytes)} on disk) under ${directory}, ` +
      `in ${plural(chunks.length, "chunk")} on ${plural(before.nodes.filter((node) => node.state === "alive").length, "node")}\n`,
  );

  const started = performance.now();
  const totals = new Map<string, number>();
  const skipped: string[] = [...listing.problems];
  const pending = new Map<ObjectRef<Map<string, number>>, number>(); // chunk result -> files in it
  let filesDone = 0;
  let filesCounted = 0;
  let textBytes = 0;
  let binaryFiles = 0;
  let tasks = 0;
  const bar = progress("wordcount", "files");
  bar.update(0, listing.files.length);

  /** Merges the results of at least `count` finished chunks. */
  const collect = async (count: number): Promise<void> => {
    const { ready } = await cluster.wait([...pending.keys()], { numReturns: count });
    for (const ref of ready) {
      for (const [word, n] of await cluster.get(ref)) totals.set(word, (totals.get(word) ?? 0) + n);
      filesDone += pending.get(ref) ?? 0;
      pending.delete(ref);
      bar.update(filesDone, listing.files.length);
    }
  };

  try {
    for (const chunk of chunks) {
      const texts: string[] = [];
      for (const file of chunk) {
        const read = await readText(file);
        if (read.kind !== "text") {
          if (read.kind === "binary") binaryFiles += 1;
          else skipped.push(`${file.path}: ${read.reason}`);
          filesDone += 1;
          continue;
        }
        texts.push(read.text);
        textBytes += read.bytes;
      }
      if (texts.length > 0) {
        pending.set(cluster.submit(countWords, texts), texts.length);
        filesCounted += texts.length;
        tasks += 1;
      }
      bar.update(filesDone, listing.files.length);
      if (pending.size >= cpus * chunksInFlightPerCpu) await collect(1);
    }
    if (pending.size > 0) await collect(pending.size);
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - started) / 1000;

  printTopWords(totals);
  const words = [...totals.values()].reduce((sum, n) => sum + n, 0);
  process.stdout.write(
    `${plural(words, "word")} (${totals.size.toLocaleString("en-US")} distinct) in ${plural(filesCounted, "file")}, ` +
      `${formatBytes(textBytes)} of text, ${plural(tasks, "task")}, ${seconds.toFixed(2)} s\n`,
  );
  if (listing.duplicates > 0) process.stdout.write(`(${plural(listing.duplicates, "symlink")} to files already listed: counted once)\n`);
  if (binaryFiles > 0) process.stdout.write(`(${plural(binaryFiles, "binary file")}, such as images and PDFs, left out)\n`);
  if (skipped.length > 0) process.stdout.write(`could not read ${plural(skipped.length, "path")}:${describeProblems(skipped)}\n`);
  process.stdout.write(`tasks per node: ${tasksPerNode(before, await cluster.status())}\n`);
} finally {
  await cluster.close();
}

/** The directory from the command line, else the first default corpus present; exits with a clear message if none. */
async function chooseDirectory(argument: string | undefined): Promise<string> {
  const candidates = argument === undefined ? defaultDirectories : [argument];
  for (const candidate of candidates) {
    let info;
    try {
      info = await stat(candidate);
    } catch (error) {
      if (argument === undefined) continue;
      fail(`cannot open ${candidate}: ${reasonOf(error)}\n${usage}`);
    }
    if (!info.isDirectory()) fail(`${candidate} is not a directory\n${usage}`);
    try {
      await access(candidate, constants.R_OK | constants.X_OK);
    } catch (error) {
      fail(`cannot read the directory ${candidate}: ${reasonOf(error)}`);
    }
    return candidate;
  }
  return fail(`none of ${defaultDirectories.join(", ")} exists here; give a directory of text files\n${usage}`);
}

/** Every regular file under `root` (symlinked files followed once, symlinked directories not, so no loops). */
async function listFiles(root: string): Promise<Listing> {
  const listing: Listing = { files: [], duplicates: 0, problems: [] };
  const seen = new Set<string>();
  const directories = [root];
  for (let directory = directories.pop(); directory !== undefined; directory = directories.pop()) {
    let entries;
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch (error) {
      listing.problems.push(`${directory}: ${reasonOf(error)}`);
      continue;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) directories.push(path);
      if (!entry.isFile() && !entry.isSymbolicLink()) continue; // sockets, FIFOs, devices are not text files
      try {
        const [info, real] = await Promise.all([stat(path), realpath(path)]);
        if (!info.isFile()) continue;
        if (seen.has(real)) {
          listing.duplicates += 1;
          continue;
        }
        seen.add(real);
        listing.files.push({ path, size: info.size });
      } catch (error) {
        listing.problems.push(`${path}: ${reasonOf(error)}`);
      }
    }
  }
  return listing;
}

/** Consecutive files grouped into chunks of about `targetBytes` (a file is never split). */
function chunkFiles(files: FileEntry[], targetBytes: number): FileEntry[][] {
  const chunks: FileEntry[][] = [];
  let current: FileEntry[] = [];
  let currentBytes = 0;
  for (const file of files) {
    if (current.length > 0 && currentBytes + file.size > targetBytes) {
      chunks.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(file);
    currentBytes += file.size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** A file's text (gzip-compressed files unpacked, as in /usr/share/doc), or why it was skipped. */
async function readText(file: FileEntry): Promise<FileText> {
  if (file.size > fileBytesMax) return { kind: "skipped", reason: `larger than ${formatBytes(fileBytesMax)}` };
  let bytes: Buffer;
  try {
    bytes = await readFile(file.path);
    if (file.path.endsWith(".gz")) bytes = await gunzipAsync(bytes, { maxOutputLength: fileBytesMax });
  } catch (error) {
    return { kind: "skipped", reason: reasonOf(error) };
  }
  if (bytes.subarray(0, 8192).includes(0)) return { kind: "binary" };
  return { kind: "text", text: bytes.toString("utf8"), bytes: bytes.length };
}

function printTopWords(totals: Map<string, number>): void {
  const top = [...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, topWordsShown);
  const wordWidth = Math.max(4, ...top.map(([word]) => word.length));
  const countWidth = Math.max(5, ...top.map(([, n]) => n.toLocaleString("en-US").length));
  process.stdout.write(`top ${top.length} words:\n`);
  top.forEach(([word, n], index) => {
    process.stdout.write(`${String(index + 1).padStart(4)}  ${word.padEnd(wordWidth)}  ${n.toLocaleString("en-US").padStart(countWidth)}\n`);
  });
}

function describeProblems(problems: string[]): string {
  const shown = problems.slice(0, 5).map((problem) => `\n  ${problem}`);
  if (problems.length > shown.length) shown.push(`\n  ... and ${problems.length - shown.length} more`);
  return shown.join("");
}

function reasonOf(error: unknown): string {
  const failure = error as NodeJS.ErrnoException;
  switch (failure.code) {
    case "ENOENT":
      return "no such file or directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ELOOP":
      return "symlink loop";
    case "ERR_BUFFER_TOO_LARGE":
      return `unpacks to more than ${formatBytes(fileBytesMax)}`;
    default:
      return failure.code === undefined ? String(failure.message) : `${failure.code}: ${failure.message}`;
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function fail(message: string): never {
  process.stderr.write(`wordcount: ${message}\n`);
  process.exit(2);
}
