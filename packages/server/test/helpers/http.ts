export interface CallOptions {
  body?: unknown;
  /** Sent as is (with the given content type), for malformed or oversize bodies. */
  rawBody?: string | Buffer;
  contentType?: string;
  bearer?: string;
  cookie?: string;
  headers?: Record<string, string>;
}

export interface Response<T = any> {
  status: number;
  headers: Headers;
  body: T;
  /** The session cookie this response set, if any. */
  sessionCookie?: string;
}

/** A thin fetch wrapper that speaks JSON and keeps the raw status and headers for assertions. */
export class HttpClient {
  constructor(readonly baseUrl: string) {}

  async call<T = any>(method: string, path: string, options: CallOptions = {}): Promise<Response<T>> {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | Buffer | undefined;
    if (options.rawBody !== undefined) {
      body = options.rawBody;
      headers['content-type'] = options.contentType ?? 'application/json';
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
    if (options.cookie) headers.cookie = options.cookie;
    const res = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    const parsed = type.includes('json') && text ? JSON.parse(text) : text;
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('parley_session='));
    return { status: res.status, headers: res.headers, body: parsed, sessionCookie: setCookie?.split(';')[0] };
  }

  get<T = any>(path: string, options?: CallOptions) {
    return this.call<T>('GET', path, options);
  }
  post<T = any>(path: string, body?: unknown, options?: CallOptions) {
    return this.call<T>('POST', path, { ...options, body });
  }
  patch<T = any>(path: string, body?: unknown, options?: CallOptions) {
    return this.call<T>('PATCH', path, { ...options, body });
  }
  delete<T = any>(path: string, options?: CallOptions) {
    return this.call<T>('DELETE', path, options);
  }
}
