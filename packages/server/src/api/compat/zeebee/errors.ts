import type { ApiError } from '../../errors.js';

/**
 * The zeebee error body: a JSON object whose `error` is the message, which is all its clients read
 * (the published SDK raises with it); the code, and the details when there are any, ride along.
 */
export function zeebeeError({ code, message, details }: ApiError): {
  error: string;
  code: string;
  details?: Record<string, unknown>;
} {
  return details ? { error: message, code, details } : { error: message, code };
}
