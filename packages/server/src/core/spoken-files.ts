import { Readable } from 'node:stream';
import type { User } from './accounts/model.js';
import { SpeechUnavailable } from './errors.js';
import type { StoredFile } from './files/model.js';
import type { FileService, Upload } from './files/service.js';
import { chunksOf, type SpeechService } from './speech.js';

/** Text spoken and kept as an audio file of the user's: what replies asked for with audio link to. */
export class SpokenFiles {
  constructor(
    private readonly speech: SpeechService,
    private readonly files: FileService,
  ) {}

  /**
   * Refuses at once when no text-to-speech provider is configured: checked before a reply is
   * asked for, so that a request that cannot be answered writes nothing.
   */
  ensureAvailable(): void {
    if (this.speech.ttsProviders().length === 0) {
      throw new SpeechUnavailable('Speech synthesis is unavailable: no text-to-speech provider is configured');
    }
  }

  /** The text spoken by the default provider, stored (its format judged from the bytes, as every upload's). */
  async speak(user: User, text: string): Promise<StoredFile> {
    const { audio, mimeType } = await this.speech.synthesize(undefined, text);
    const upload: Upload = { filename: 'reply', declaredType: mimeType, stream: Readable.from(chunksOf(audio)) };
    const [file] = await this.files.upload(
      user,
      (async function* () {
        yield upload;
      })(),
    );
    return file!;
  }
}
