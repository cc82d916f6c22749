/**
 * `HttpError`: how the server answers a request it cannot serve. Every error response is
 * `{ error: { code, message } }` with a stable `code` (SERVE_ERROR) and its HTTP status.
 */

/** Stable codes of error responses, with their HTTP status. */
export const SERVE_ERROR = {
  /** A malformed request: bad query, no image in a multipart body, no task named. */
  badRequest: { code: 'bad_request', status: 400 },
  /** No task by that name. */
  unknownTask: { code: 'unknown_task', status: 404 },
  /** The body is larger than the server's body limit. */
  bodyTooLarge: { code: 'body_too_large', status: 413 },
  /** The body is not an image format the decoder reads. */
  notAnImage: { code: 'not_an_image', status: 415 },
  /** The image is truncated or corrupt. */
  corruptImage: { code: 'corrupt_image', status: 422 },
  /** The image has more pixels than the server's pixel limit (a decompression bomb). */
  tooManyPixels: { code: 'image_too_many_pixels', status: 422 },
  /** The request was not answered before its deadline. */
  deadlineExceeded: { code: 'deadline_exceeded', status: 504 },
  /** The queue is full: retry after the Retry-After header's seconds. */
  queueFull: { code: 'queue_full', status: 503 },
  /** The server is shutting down. */
  shuttingDown: { code: 'shutting_down', status: 503 },
  /** Anything else (the message says what). */
  internal: { code: 'internal', status: 500 },
} as const;

export type ServeErrorKind = (typeof SERVE_ERROR)[keyof typeof SERVE_ERROR];

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(kind: ServeErrorKind, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = kind.status;
    this.code = kind.code;
    this.headers = headers;
  }
}
