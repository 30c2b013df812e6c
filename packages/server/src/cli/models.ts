import path from 'node:path';
import type { Command } from 'commander';
import {
  DEFAULT_HF_ENDPOINT,
  ModelPullError,
  listModelFiles,
  modelsDir,
  parseModelRef,
  pullModel,
} from '../llm/model-files.js';
import { configOf } from './context.js';

export function modelCommands(program: Command): void {
  const models = program.command('models').description('local GGUF models, served from <dataDir>/models');

  models
    .command('pull <ref>')
    .description(
      'download a GGUF file from Hugging Face, e.g. ggml-org/models/tinyllamas/stories260K.gguf ' +
        '(<owner>/<repo>/<file in the repo>); an interrupted pull resumes. ' +
        'Env: HF_TOKEN for private or gated repos, PARLEY_HF_ENDPOINT for a mirror',
    )
    .action(async (ref: string, _options, command: Command) => {
      const endpoint = takeEndpoint();
      const { dataDir } = configOf(command);
      try {
        const { repo, file } = parseModelRef(ref);
        console.error(`pulling ${repo}/${file} from ${endpoint}`);
        const progress = progressBar(process.stderr);
        const pulled = await pullModel({
          repo,
          file,
          dataDir,
          endpoint,
          token: process.env.HF_TOKEN || undefined,
          onProgress: progress.update,
        }).finally(progress.end);
        const checked = pulled.sha256 ? 'SHA-256 verified' : 'no SHA-256 published; GGUF header checked';
        const size = `${formatSize(pulled.size)}, ${checked}`;
        const where = `${path.resolve(pulled.path)} (${size})`;
        console.log(pulled.alreadyPresent ? `already present: ${where}` : where);
        console.log(`registered: the server serves it as model \`${pulled.id}\``);
      } catch (error) {
        // Expected failures (404, bad checksum, network) are one line, without main's "debug shows details".
        if (!(error instanceof ModelPullError)) throw error;
        console.error(`parley: ${error.message}`);
        process.exitCode = 1;
      }
    });

  models
    .command('list')
    .description('list the GGUF files in <dataDir>/models, each served as a model named after the file')
    .action(async (_options, command: Command) => {
      takeEndpoint();
      const { dataDir } = configOf(command);
      const files = await listModelFiles(dataDir);
      if (!files.length) console.log(`no models in ${modelsDir(dataDir)} (add one with: parley models pull <ref>)`);
      const width = Math.max(0, ...files.map((f) => f.name.length));
      for (const f of files) console.log(`${f.name.padEnd(width)}  ${formatSize(f.size).padStart(9)}`);
    });
}

/** A Hugging Face mirror, for networks that cannot reach the hub (and for tests). */
function takeEndpoint(): string {
  return process.env.PARLEY_HF_ENDPOINT || DEFAULT_HF_ENDPOINT;
}

/** One line redrawn in place on a terminal; in a log (not a TTY), a line every 10%. */
function progressBar(stream: NodeJS.WriteStream) {
  const started = Date.now();
  let first: number | undefined;
  let lastDraw = 0;
  let lastStep = -1;
  let drawn = false;
  return {
    update(received: number, total: number | undefined) {
      if (first === undefined && received > 0) stream.write(`resuming at ${mb(received)} MB\n`);
      first ??= received;
      const now = Date.now();
      const seconds = (now - started) / 1000;
      const speed = seconds > 0 ? `  ${mb((received - first) / seconds)} MB/s` : '';
      const percent = total ? `${Math.floor((received / total) * 100)}%`.padStart(4) : '';
      const line = `${percent}  ${mb(received)}/${total === undefined ? '?' : mb(total)} MB${speed}`;
      if (stream.isTTY) {
        if (now - lastDraw < 100 && received !== total) return; // ~10 redraws a second is smooth enough
        lastDraw = now;
        drawn = true;
        stream.write(`\r${line}\x1b[K`);
      } else {
        // Without a total, a line every 100 MB.
        const step = total ? Math.floor((received / total) * 10) : Math.floor(received / 100e6);
        if (step > lastStep) stream.write(`${line.trim()}\n`);
        lastStep = Math.max(step, lastStep);
      }
    },
    end() {
      if (drawn) stream.write('\n');
    },
  };
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

function formatSize(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${mb(bytes)} MB`;
}
