import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FILE_NAME = 'stories260K.gguf';
const DOWNLOAD_URL = `https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/${FILE_NAME}`;

/** `<repo root>/../shared/models`, next to the checkout so that every worktree shares one copy. */
const sharedPath = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../..',
  '../shared/models',
  FILE_NAME,
);

/**
 * The path of a tiny (1 MB) Llama model trained on children's stories, for tests that run real inference:
 * `PARLEY_TEST_MODEL` when set, else the shared copy, else a copy downloaded once into the temp directory.
 */
export async function tinyModelPath(): Promise<string> {
  const fromEnv = process.env.PARLEY_TEST_MODEL;
  if (fromEnv) {
    const resolved = path.resolve(fromEnv);
    if (!existsSync(resolved)) throw new Error(`PARLEY_TEST_MODEL points at ${resolved}, which does not exist`);
    return resolved;
  }
  if (existsSync(sharedPath)) return sharedPath;

  const cached = path.join(tmpdir(), 'parley-models', FILE_NAME);
  if (existsSync(cached)) return cached;
  try {
    const response = await fetch(DOWNLOAD_URL, { signal: AbortSignal.timeout(60_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    if (bytes.subarray(0, 4).toString('latin1') !== 'GGUF') throw new Error('the download is not a GGUF file');
    await mkdir(path.dirname(cached), { recursive: true });
    // Written aside and renamed, so a parallel test run never reads a half-written file.
    const partial = `${cached}.${process.pid}.part`;
    await writeFile(partial, bytes);
    await rename(partial, cached).catch(async (error: unknown) => {
      await rm(partial, { force: true });
      if (!existsSync(cached)) throw error;
    });
    return cached;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `The test model ${FILE_NAME} is missing and could not be downloaded from ${DOWNLOAD_URL} (${reason}). ` +
        `Put the file at ${sharedPath}, or set PARLEY_TEST_MODEL to its path.`,
    );
  }
}
