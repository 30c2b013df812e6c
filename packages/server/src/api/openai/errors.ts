import type { ApiError } from '../errors.js';

/** OpenAI's error body: `{error: {message, type, param, code}}`, with the types its clients expect. */
export function openAiError(apiError: ApiError): {
  error: { message: string; type: string; param: string | null; code: string | null };
} {
  const field = apiError.details?.field;
  return {
    error: {
      message: apiError.message,
      type: errorType(apiError.status),
      param: typeof field === 'string' ? field : null,
      code: errorCode(apiError),
    },
  };
}

function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function errorCode({ code, status }: ApiError): string | null {
  switch (code) {
    case 'UNAUTHORIZED':
      return 'invalid_api_key';
    case 'MODEL_NOT_FOUND':
      return 'model_not_found';
    case 'CONTEXT_LENGTH_EXCEEDED':
      return 'context_length_exceeded';
    case 'RATE_LIMITED':
      return 'rate_limit_exceeded';
    case 'NOT_FOUND':
      return status === 404 ? 'not_found' : null;
    case 'VALIDATION_ERROR':
      return null;
    default:
      return code.toLowerCase();
  }
}
